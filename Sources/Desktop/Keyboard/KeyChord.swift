/// Key chords in xdotool syntax: `+` joins keys pressed together, whitespace separates
/// chords pressed one after another (`ctrl+a ctrl+c`, `tab tab enter`, `ctrl++`).
public struct KeyChord: Sendable, Hashable {
    /// Key names as written, in press order.
    public var keys: [String]

    public init(keys: [String]) {
        self.keys = keys
    }

    /// Splits `text` into chords. Throws for empty input or an empty key name (`ctrl+`).
    public static func parse(_ text: String) throws -> [KeyChord] {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard !tokens.isEmpty else { throw DesktopError.invalidChord(text, reason: "no key names given") }
        return try tokens.map { token in
            var parts = token.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            // A literal plus key: "+" alone, or "ctrl++" (two empty parts at the end).
            if parts.count >= 2, parts[parts.count - 1].isEmpty, parts[parts.count - 2].isEmpty {
                parts.removeLast(2)
                parts.append("+")
            }
            if parts.contains(where: \.isEmpty) {
                throw DesktopError.invalidChord(String(token), reason: "empty key name (a '+' with nothing after it?)")
            }
            return KeyChord(keys: parts)
        }
    }
}
