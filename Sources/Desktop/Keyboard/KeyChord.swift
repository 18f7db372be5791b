import CyberdeskAPI

/// Key chords in xdotool syntax: `+` joins keys pressed together, whitespace separates
/// chords pressed one after another (`ctrl+a ctrl+c`, `tab tab enter`, `ctrl++`).
public struct KeyChord: Sendable, Hashable {
    /// Key names as written, in press order.
    public var keys: [String]

    public init(keys: [String]) {
        self.keys = keys
    }

    /// Splits `text` into chords (`KeyVocabulary.chords`). Throws for empty input or an
    /// empty key name (`ctrl+`).
    public static func parse(_ text: String) throws -> [KeyChord] {
        do {
            return try KeyVocabulary.chords(text).map(KeyChord.init(keys:))
        } catch {
            throw DesktopError.invalidChord(error.text, reason: error.reason)
        }
    }
}
