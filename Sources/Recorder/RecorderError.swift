/// Why a recording could not start, run or be written, in words a user can act on.
public enum RecorderError: Error, Sendable, Hashable, CustomStringConvertible {
    case badStopChord(String, reason: String)
    case cannotOpenDisplay(String)
    case recordExtensionMissing(String)
    case recordFailed(String)
    case keymapUnavailable(String)
    case badTemplateValue(name: String, reason: String)

    public var description: String {
        switch self {
        case .badStopChord(let text, let reason):
            "the stop chord '\(text)' cannot be used: \(reason)"
        case .cannotOpenDisplay(let name):
            "cannot open X display \(name): is DISPLAY right and may this user connect (xauth)?"
        case .recordExtensionMissing(let name):
            "the X server on \(name) has no RECORD extension; start Xorg/Xvfb with it (it is on by default; `+extension RECORD`)"
        case .recordFailed(let detail):
            "recording input failed: \(detail)"
        case .keymapUnavailable(let detail):
            "cannot read the keyboard map through XKB: \(detail)"
        case .badTemplateValue(let name, let reason):
            "input or secret \(name) cannot be used: \(reason)"
        }
    }
}
