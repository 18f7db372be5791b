import CyberdeskAPI

/// A `computer` tool action as STEPS.md steps in the machine's screen coordinates: the model
/// points in the screenshot it saw (``PlanRequest/imageSize``), the steps act on the screen
/// (``PlanRequest/screen``).
enum ComputerMapping {
    enum Problem: Error {
        case answer(String)
        case invalid(String)
    }

    static func steps(for action: ComputerAction, request: PlanRequest, secrets: Set<String>) -> PlannerLoop.Mapped {
        let image = request.imageSize
        let screen = request.screen
        func point(_ p: ModelPoint) throws(Problem) -> (x: JSONValue, y: JSONValue) {
            // The far edge itself (x == width, as normalized 1000 gives) is the last pixel.
            guard p.x >= 0, p.y >= 0, p.x <= Double(image.width), p.y <= Double(image.height) else {
                throw .invalid(
                    "coordinate [\(format(p.x)), \(format(p.y))] is outside the screen (\(image.width)x\(image.height)); "
                        + "use a point inside the screenshot")
            }
            // The screen pixel under the model's pixel (the same rule as trajectory scaling).
            let x = ((p.x + 0.5) * Double(screen.width) / Double(image.width)).rounded(.down)
            let y = ((p.y + 0.5) * Double(screen.height) / Double(image.height)).rounded(.down)
            return (.int(Int64(min(x, Double(screen.width - 1)))), .int(Int64(min(y, Double(screen.height - 1)))))
        }
        func pointer() throws(Problem) -> (x: JSONValue, y: JSONValue) {
            guard let pointer = request.pointer else {
                throw .invalid("the pointer position is unknown; give a coordinate")
            }
            return (.int(Int64(pointer.x)), .int(Int64(pointer.y)))
        }
        func step(_ name: String, _ kwargs: JSONObject) -> JSONValue {
            ["func_name": .string(name), "kwargs": .object(kwargs)]
        }
        func held(_ modifiers: String?, _ inner: [JSONValue]) -> [JSONValue] {
            guard let raw = modifiers, !raw.isEmpty else { return inner }
            let modifiers = PlannerTools.escaped(raw, keepingSecrets: [])
            return [step("key", ["text": .string(modifiers), "down": true])] + inner
                + [step("key", ["text": .string(modifiers), "down": false])]
        }
        do throws(Problem) {
            switch action {
            case .screenshot:
                return .answer("Here is the screen.")
            case .cursorPosition:
                guard let pointer = request.pointer else {
                    return .answer("The pointer position is unknown.")
                }
                let x = (Double(pointer.x) * Double(image.width) / Double(screen.width)).rounded(.down)
                let y = (Double(pointer.y) * Double(image.height) / Double(screen.height)).rounded(.down)
                return .answer("The pointer is at [\(format(x)), \(format(y))].")
            case .click(let button, let clicks, let at, let modifiers):
                let (x, y): (x: JSONValue, y: JSONValue)
                if let at { (x, y) = try point(at) } else { (x, y) = try pointer() }
                return .steps(
                    held(
                        modifiers,
                        [
                            step(
                                "click",
                                [
                                    "x": x, "y": y, "button": .string(button.rawValue),
                                    "clicks": .int(Int64(clicks)),
                                ])
                        ]))
            case .mouseMove(let p):
                let (x, y) = try point(p)
                return .steps([step("mouse_move", ["x": x, "y": y])])
            case .drag(let from, let to):
                let start = try point(from)
                let end = try point(to)
                return .steps([
                    step(
                        "drag",
                        [
                            "start_x": start.x, "start_y": start.y, "to_x": end.x, "to_y": end.y,
                            "duration": .double(0.3),
                        ])
                ])
            case .mouseDown(let at), .mouseUp(let at):
                var kwargs: JSONObject = ["button": "left"]
                if let at {
                    let (x, y) = try point(at)
                    kwargs["x"] = x
                    kwargs["y"] = y
                }
                let name = if case .mouseDown = action { "mouse_down" } else { "mouse_up" }
                return .steps([step(name, kwargs)])
            case .scroll(let direction, let amount, let at, let modifiers):
                var kwargs: JSONObject = ["direction": .string(direction.rawValue), "amount": .int(Int64(amount))]
                if let at {
                    let (x, y) = try point(at)
                    kwargs["x"] = x
                    kwargs["y"] = y
                }
                return .steps(held(modifiers, [step("scroll", kwargs)]))
            case .type(let text):
                return .steps([step("type", ["text": .string(PlannerTools.escaped(text, keepingSecrets: secrets))])])
            case .key(let chords):
                return .steps([step("key", ["text": .string(PlannerTools.escaped(chords, keepingSecrets: []))])])
            case .holdKey(let raw, let seconds):
                let chords = PlannerTools.escaped(raw, keepingSecrets: [])
                return .steps([
                    step("key", ["text": .string(chords), "down": true]),
                    step("wait", ["seconds": .double(min(max(seconds, 0), 60))]),
                    step("key", ["text": .string(chords), "down": false]),
                ])
            case .wait(let seconds):
                return .steps([step("wait", ["seconds": .double(min(max(seconds, 0), 60))])])
            }
        } catch {
            switch error {
            case .answer(let text): return .answer(text)
            case .invalid(let text): return .invalid(text)
            }
        }
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
