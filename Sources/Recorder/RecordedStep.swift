import CyberdeskAPI
import Desktop

/// Where and when the screen must be cropped for a step's checkpoint: around `point`, as
/// it was just before server time `time` (the press that starts the step).
public struct CheckpointRequest: Sendable, Hashable {
    public var point: Point
    public var time: Int64

    public init(point: Point, time: Int64) {
        self.point = point
        self.time = time
    }
}

/// One step of a recorded demonstration, before templating and checkpoint crops.
public struct RecordedStep: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case click(Point, button: MouseButtonName, clicks: Int)
        case drag(from: Point, to: Point, button: MouseButtonName)
        case scroll(ScrollDirectionName, amount: Int, at: Point)
        /// Text as typed (not yet templated: it may hold a secret's characters).
        case type(String)
        /// Chords in xdotool syntax, separated by spaces.
        case key(String)
        case wait(seconds: Double)
    }

    public var action: Action
    public var checkpoint: CheckpointRequest?
    /// Server time of the input that made the step final (for latency figures).
    public var decidedAt: Int64

    public init(_ action: Action, checkpoint: CheckpointRequest? = nil, decidedAt: Int64 = 0) {
        self.action = action
        self.checkpoint = checkpoint
        self.decidedAt = decidedAt
    }

    /// The step in the trajectory format (STEPS.md), with `checkpoint` when given. `type`
    /// text must already be templated (`TypedTextTemplater`).
    public func json(checkpoint: JSONValue? = nil) -> JSONValue {
        var step: JSONObject
        switch action {
        case .click(let point, let button, let clicks):
            step = [
                "func_name": "click",
                "kwargs": [
                    "x": .int(Int64(point.x)), "y": .int(Int64(point.y)), "button": .string(button.rawValue),
                    "clicks": .int(Int64(clicks)),
                ],
            ]
        case .drag(let from, let to, let button):
            step = [
                "func_name": "drag",
                "kwargs": [
                    "start_x": .int(Int64(from.x)), "start_y": .int(Int64(from.y)), "to_x": .int(Int64(to.x)),
                    "to_y": .int(Int64(to.y)), "button": .string(button.rawValue),
                ],
            ]
        case .scroll(let direction, let amount, let point):
            step = [
                "func_name": "scroll",
                "kwargs": [
                    "direction": .string(direction.rawValue), "amount": .int(Int64(amount)), "x": .int(Int64(point.x)),
                    "y": .int(Int64(point.y)),
                ],
            ]
        case .type(let text):
            step = ["func_name": "type", "kwargs": ["text": .string(text)]]
        case .key(let chords):
            step = ["func_name": "key", "kwargs": ["text": .string(chords)]]
        case .wait(let seconds):
            step = ["func_name": "wait", "kwargs": ["seconds": .double(seconds)]]
        }
        if let checkpoint { step["checkpoint"] = checkpoint }
        return .object(step)
    }

    /// One line for the terminal. `type` text must already be templated, so a secret shows as
    /// its `{$name}` placeholder.
    public var summary: String {
        switch action {
        case .click(let point, let button, let clicks):
            let what = clicks == 1 ? "click" : clicks == 2 ? "double click" : "triple click"
            return "\(what) \(button == .left ? "" : button.rawValue + " ")at \(point.x),\(point.y)"
        case .drag(let from, let to, let button):
            return "drag \(button == .left ? "" : button.rawValue + " ")from \(from.x),\(from.y) to \(to.x),\(to.y)"
        case .scroll(let direction, let amount, let point):
            return "scroll \(direction.rawValue) \(amount) at \(point.x),\(point.y)"
        case .type(let text):
            return "type \(Self.quoted(text))"
        case .key(let chords):
            return "key \(chords)"
        case .wait(let seconds):
            return "wait \(seconds) s"
        }
    }

    /// Control characters escaped so one step stays one line.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
