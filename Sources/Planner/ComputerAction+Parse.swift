import CyberdeskAPI

extension ComputerAction {
    /// The actions of the `computer` tool, in the order the OpenAI function tool's `action` enum
    /// lists them (the Anthropic computer-use vocabulary).
    public static let actionNames: [String] = [
        "screenshot", "left_click", "right_click", "middle_click", "double_click", "triple_click",
        "mouse_move", "left_click_drag", "left_mouse_down", "left_mouse_up", "scroll", "type", "key",
        "hold_key", "wait", "cursor_position",
    ]

    /// Reads one `computer` tool call's input (`action`, `coordinate`, `start_coordinate`, `text`,
    /// `scroll_direction`, `scroll_amount`, `duration`) into an action, with coordinates in pixels of
    /// `screen` (`normalized_1000` input is scaled to it).
    ///
    /// Points outside the screen are kept: the loop tells the model, which can correct itself,
    /// where a rejection here would end the run. An unknown action or a missing or ill-typed
    /// field is `.malformed`, naming the field, so the run's error says what the model got wrong.
    public static func parse(
        _ input: JSONObject, screen: DisplaySize, space: CoordinateSpace, configuration: String
    ) throws(ModelError) -> ComputerAction {
        let reader = Reader(input: input, screen: screen, space: space, configuration: configuration)
        guard let actionValue = input["action"] else {
            throw reader.malformed("the computer tool call has no 'action'")
        }
        guard let action = actionValue.stringValue else {
            throw reader.malformed("'action' of the computer tool call is \(actionValue.typeName), not a string")
        }
        switch action {
        case "screenshot": return .screenshot
        case "cursor_position": return .cursorPosition
        case "left_click", "right_click", "middle_click", "double_click", "triple_click":
            let button: MouseButtonName =
                switch action {
                case "right_click": .right
                case "middle_click": .middle
                default: .left
                }
            let clicks =
                switch action {
                case "double_click": 2
                case "triple_click": 3
                default: 1
                }
            return .click(
                button: button, clicks: clicks, at: try reader.point("coordinate", required: false),
                modifiers: try reader.string("text", required: false))
        case "mouse_move":
            return .mouseMove(try reader.point("coordinate", required: true)!)
        case "left_click_drag":
            return .drag(
                from: try reader.point("start_coordinate", required: true)!,
                to: try reader.point("coordinate", required: true)!)
        case "left_mouse_down": return .mouseDown(try reader.point("coordinate", required: false))
        case "left_mouse_up": return .mouseUp(try reader.point("coordinate", required: false))
        case "scroll":
            let directionText = try reader.string("scroll_direction", required: true)!
            guard let direction = ScrollDirectionName(rawValue: directionText) else {
                throw reader.malformed(
                    "'scroll_direction' is '\(directionText)', not one of up, down, left, right")
            }
            let amount = try reader.integer("scroll_amount")
            guard amount >= 0 else { throw reader.malformed("'scroll_amount' is \(amount), not 0 or more") }
            return .scroll(
                direction: direction, amount: amount, at: try reader.point("coordinate", required: false),
                modifiers: try reader.string("text", required: false))
        case "type": return .type(try reader.string("text", required: true)!)
        case "key": return .key(try reader.string("text", required: true)!)
        case "hold_key":
            return .holdKey(try reader.string("text", required: true)!, seconds: try reader.seconds("duration"))
        case "wait": return .wait(seconds: try reader.seconds("duration"))
        default:
            throw reader.malformed(
                "unknown computer action '\(action)' (expected one of \(actionNames.joined(separator: ", ")))")
        }
    }

    /// The typed field readers of one tool call input, each error naming the action and the field.
    private struct Reader {
        var input: JSONObject
        var screen: DisplaySize
        var space: CoordinateSpace
        var configuration: String

        var actionName: String { input["action"]?.stringValue ?? "?" }

        func malformed(_ detail: String) -> ModelError {
            .malformed(configuration: configuration, detail: detail)
        }

        func point(_ field: String, required: Bool) throws(ModelError) -> ModelPoint? {
            guard let value = input[field], value != .null else {
                if required { throw malformed("computer action '\(actionName)' needs '\(field)' ([x, y])") }
                return nil
            }
            guard let items = value.arrayValue, items.count == 2, let x = items[0].doubleValue,
                let y = items[1].doubleValue, x.isFinite, y.isFinite
            else {
                throw malformed(
                    "'\(field)' of computer action '\(actionName)' is \(value.compactJSON.prefix(60)), not [x, y]")
            }
            switch space {
            case .pixels: return ModelPoint(x: x, y: y)
            case .normalized1000:
                return ModelPoint(x: x * Double(screen.width) / 1000, y: y * Double(screen.height) / 1000)
            }
        }

        func string(_ field: String, required: Bool) throws(ModelError) -> String? {
            guard let value = input[field], value != .null else {
                if required { throw malformed("computer action '\(actionName)' needs '\(field)' (a string)") }
                return nil
            }
            guard let text = value.stringValue else {
                throw malformed("'\(field)' of computer action '\(actionName)' is \(value.typeName), not a string")
            }
            return text
        }

        func integer(_ field: String) throws(ModelError) -> Int {
            guard let value = input[field], value != .null else {
                throw malformed("computer action '\(actionName)' needs '\(field)' (an integer)")
            }
            guard let number = value.intValue, let int = Int(exactly: number) else {
                throw malformed("'\(field)' of computer action '\(actionName)' is \(value.typeName), not an integer")
            }
            return int
        }

        func seconds(_ field: String) throws(ModelError) -> Double {
            guard let value = input[field], value != .null else {
                throw malformed("computer action '\(actionName)' needs '\(field)' (seconds)")
            }
            guard let seconds = value.doubleValue, seconds.isFinite, seconds >= 0 else {
                throw malformed(
                    "'\(field)' of computer action '\(actionName)' is \(value.compactJSON.prefix(40)), not seconds")
            }
            return seconds
        }
    }
}
