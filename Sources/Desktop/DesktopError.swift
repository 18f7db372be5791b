/// Errors a caller can act on; every message names what was wrong and what to check.
public enum DesktopError: Error, CustomStringConvertible, Equatable {
    case cannotOpenDisplay(String)
    case extensionMissing(String)
    case outOfScreen(Point, Size)
    case unknownKey(name: String, chord: String)
    case invalidChord(String, reason: String)
    case unsupportedCharacter(Unicode.Scalar)
    case noScratchKeycode
    case invalidArgument(String)
    case x11(code: Int32, request: UInt8, during: String)
    case clipboardTimeout(seconds: Double)
    case clipboardConversionFailed(String)
    case encodingFailed(String)
    case displayClosed

    public var description: String {
        switch self {
        case .cannotOpenDisplay(let name):
            return
                "cannot open X display '\(name)': is DISPLAY set and the X server running, and may this user connect (XAUTHORITY)?"
        case .extensionMissing(let name):
            return "the X server does not support the \(name) extension, which the agent needs"
        case .outOfScreen(let point, let size):
            return "point (\(point.x), \(point.y)) is outside the screen (0..<\(size.width), 0..<\(size.height))"
        case .unknownKey(let name, let chord):
            return "unknown key name '\(name)' in '\(chord)'"
        case .invalidChord(let chord, let reason):
            return "invalid key chord '\(chord)': \(reason)"
        case .unsupportedCharacter(let scalar):
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "cannot type control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex)"
        case .noScratchKeycode:
            return "the keymap has no empty keycode to type characters that are not on it"
        case .invalidArgument(let message):
            return message
        case .x11(let code, let request, let during):
            return "X error \(code) (request \(request)) while \(during)"
        case .clipboardTimeout(let seconds):
            return "the clipboard owner did not answer within \(seconds) s"
        case .clipboardConversionFailed(let message):
            return "the clipboard owner could not provide text: \(message)"
        case .encodingFailed(let message):
            return "PNG encoding failed: \(message)"
        case .displayClosed:
            return "the X display connection is closed"
        }
    }
}
