import CyberdeskAPI
import Desktop
import FoundationEssentials

/// Executes ad-hoc computer commands (`/v1/computer/{machine_id}/...`) on the desktop. The
/// desktop serializes input actions, so commands never interleave with run steps.
public struct CommandRunner: Sendable {
    let desktop: any Desktop
    /// Runs shell commands and file access for `shell/exec` and `fs/*` (nil refuses them).
    let files: CommandFiles?

    public init(desktop: any Desktop, files: CommandFiles?) {
        self.desktop = desktop
        self.files = files
    }

    /// The answer to post back: status (200, 400 bad parameters, 500 failure), type, body.
    public struct Answer: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        static func json(_ value: JSONValue, status: Int = 200) -> Answer {
            Answer(status: status, contentType: "application/json", body: Array(value.compactJSON.utf8))
        }

        static func failure(_ status: Int, _ message: String) -> Answer {
            json(["detail": .string(message)], status: status)
        }
    }

    struct BadParameter: Error {
        var message: String
    }

    public func run(_ command: AgentCommand) async -> Answer {
        do {
            return try await perform(command.action, Parameters(values: command.params))
        } catch let error as BadParameter {
            return .failure(400, "\(command.action): \(error.message)")
        } catch let error as DesktopError {
            // Mistakes in the request (unknown key, point off the screen) are the caller's to fix.
            switch error {
            case .unknownKey, .invalidChord, .outOfScreen, .invalidArgument, .unsupportedCharacter:
                return .failure(400, "\(command.action): \(error)")
            default:
                return .failure(500, "\(command.action): \(error)")
            }
        } catch {
            return .failure(500, "\(command.action): \(error)")
        }
    }

    func perform(_ action: String, _ p: Parameters) async throws -> Answer {
        switch action {
        case "display/screenshot":
            let mode =
                try p.string("mode").map { text -> ScaleMode in
                    guard let mode = ScaleMode(rawValue: text) else {
                        throw BadParameter(message: "mode must be exact, aspect_fit or aspect_fill")
                    }
                    return mode
                } ?? .exact
            let shot = try await desktop.screenshot(
                ScreenshotOptions(width: try p.int("width"), height: try p.int("height"), mode: mode))
            return Answer(status: 200, contentType: "image/png", body: shot.png)
        case "display/dimensions":
            let size = try await desktop.dimensions()
            return .json(["width": .int(Int64(size.width)), "height": .int(Int64(size.height))])
        case "input/mouse/position":
            let point = try await desktop.pointerPosition()
            return .json(["x": .int(Int64(point.x)), "y": .int(Int64(point.y))])
        case "input/mouse/move":
            try await desktop.move(to: try p.requiredPoint("x", "y"))
        case "input/mouse/click":
            let point = try p.optionalPoint("x", "y")
            let button = try p.button("button")
            if let down = try p.bool("down") {
                try await desktop.mouseButton(button, down: down, at: point)
            } else {
                let clicks = try p.int("clicks") ?? 1
                guard (1...3).contains(clicks) else { throw BadParameter(message: "clicks must be 1, 2 or 3") }
                try await desktop.click(at: point, button: button, clicks: clicks)
            }
        case "input/mouse/drag":
            try await desktop.drag(
                from: try p.requiredPoint("start_x", "start_y"), to: try p.requiredPoint("to_x", "to_y"),
                duration: try p.double("duration") ?? 0, button: try p.button("button"))
        case "input/mouse/scroll":
            guard let direction = try p.string("direction").flatMap(ScrollDirection.init(rawValue:)) else {
                throw BadParameter(message: "direction must be up, down, left or right")
            }
            let amount = try p.int("amount") ?? 1
            guard amount >= 0 else { throw BadParameter(message: "amount must be 0 or more") }
            try await desktop.scroll(direction, amount: amount, at: try p.optionalPoint("x", "y"))
        case "input/keyboard/type":
            guard let text = try p.string("text") else { throw BadParameter(message: "text is required") }
            try await desktop.type(text, options: .fast)
        case "input/keyboard/key":
            guard let text = try p.string("text"), !text.isEmpty else {
                throw BadParameter(message: "text is required")
            }
            let action: KeyAction =
                switch try p.bool("down") {
                case true?: .down
                case false?: .up
                case nil: .tap
                }
            try await desktop.key(text, action: action)
        case "copy_to_clipboard":
            guard let key = try p.string("text"), !key.isEmpty else {
                throw BadParameter(message: "text (the name to store the clipboard under) is required")
            }
            let text = try await desktop.copySelectionToClipboard(chord: "ctrl+c", timeout: 2)
            return .json([key: .string(text)])
        case "fs/list", "fs/read", "fs/write", "shell/exec":
            guard let files else { throw BadParameter(message: "file and shell access is disabled on this machine") }
            return .json(try await files.perform(action, p.values))
        default:
            return .failure(400, "unknown action '\(action)'")
        }
        return Answer(status: 200, contentType: "application/json", body: Array("{}".utf8))
    }

    /// Typed access to a command's parameters, which arrive as JSON or as query strings.
    struct Parameters {
        var values: JSONObject

        func string(_ key: String) throws -> String? {
            switch values[key] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw BadParameter(message: "\(key) must be a string")
            }
        }

        func double(_ key: String) throws -> Double? {
            switch values[key] {
            case nil, .null?: return nil
            case .string(let text)?:
                guard let value = Double(text) else { throw BadParameter(message: "\(key) must be a number") }
                return value
            case let value?:
                guard let number = value.doubleValue else { throw BadParameter(message: "\(key) must be a number") }
                return number
            }
        }

        func int(_ key: String) throws -> Int? {
            guard let value = try double(key) else { return nil }
            guard value.rounded() == value, abs(value) < 1e9 else {
                throw BadParameter(message: "\(key) must be an integer")
            }
            return Int(value)
        }

        func bool(_ key: String) throws -> Bool? {
            switch values[key] {
            case nil, .null?: return nil
            case .bool(let flag)?: return flag
            case .string("true")?: return true
            case .string("false")?: return false
            default: throw BadParameter(message: "\(key) must be true or false")
            }
        }

        func button(_ key: String) throws -> MouseButton {
            guard let text = try string(key) else { return .left }
            guard let button = MouseButton(rawValue: text) else {
                throw BadParameter(message: "\(key) must be left, right or middle")
            }
            return button
        }

        func optionalPoint(_ x: String, _ y: String) throws -> Point? {
            switch (try int(x), try int(y)) {
            case (let px?, let py?): return Point(x: px, y: py)
            case (nil, nil): return nil
            default: throw BadParameter(message: "give both \(x) and \(y), or neither")
            }
        }

        func requiredPoint(_ x: String, _ y: String) throws -> Point {
            guard let point = try optionalPoint(x, y) else { throw BadParameter(message: "\(x) and \(y) are required") }
            return point
        }
    }
}

/// File and shell access for computer commands; implemented over the executor's confined
/// paths and process runner.
public protocol CommandFiles: Sendable {
    func perform(_ action: String, _ params: JSONObject) async throws -> JSONValue
}
