import CyberdeskAPI
import Foundation

/// The script a `scripted-model` follows (see `README.md` next to this file).
///
/// The step a request gets is the number of assistant turns already in its conversation, not a
/// counter in the server: each conversation follows the script from the start, so concurrent
/// runs (benchmarks) and hand-made single requests (tests) behave alike.
struct Script: Sendable {
    var actions: [ScriptAction]
    var faults: [Fault]
    /// Repeated after the actions instead of ending (a model that never ends its turn).
    var forever: ScriptAction?

    struct Fault: Sendable {
        var status: Int
        var times: Int
        var headers: [(String, String)]
        var delaySeconds: Double
    }

    static func load(path: String) throws -> Script {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let value = try JSONDecoder().decode(JSONValue.self, from: data)
        guard let object = value.objectValue else { throw ScriptError("the script is not a JSON object") }
        return try Script(object)
    }

    init(_ object: JSONObject) throws {
        actions = try (object["actions"]?.arrayValue ?? []).enumerated().map { index, value in
            guard let action = value.objectValue else { throw ScriptError("actions[\(index)] is not an object") }
            return try ScriptAction(action, where: "actions[\(index)]")
        }
        faults = try (object["faults"]?.arrayValue ?? []).enumerated().map { index, value in
            guard let fault = value.objectValue else { throw ScriptError("faults[\(index)] is not an object") }
            let headers = (fault["headers"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map {
                ($0.key, $0.value.stringValue ?? $0.value.templateText)
            }
            return Fault(
                status: Int(fault["status"]?.intValue ?? 500), times: Int(fault["times"]?.intValue ?? 1),
                headers: headers, delaySeconds: fault["delay_seconds"]?.doubleValue ?? 0)
        }
        if let forever = object["forever"]?.objectValue {
            self.forever = try ScriptAction(forever, where: "forever")
        }
    }

    func action(step: Int) -> ScriptAction {
        if step < actions.count { return actions[step] }
        return forever ?? ScriptAction(kind: .end("All done."), say: nil, delaySeconds: 0)
    }
}

struct ScriptError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where a click lands: the centre of a colour's largest region in the latest screenshot.
struct ColorTarget: Sendable, Hashable {
    var red: UInt8
    var green: UInt8
    var blue: UInt8

    var hex: String {
        "#"
            + [red, green, blue].map { byte in
                let text = String(byte, radix: 16)
                return text.count == 1 ? "0" + text : text
            }.joined()
    }

    init(_ text: String, where location: String) throws {
        let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
        guard digits.count == 6, let value = UInt32(digits, radix: 16) else {
            throw ScriptError("\(location): '\(text)' is not a #rrggbb colour")
        }
        red = UInt8(value >> 16 & 0xFF)
        green = UInt8(value >> 8 & 0xFF)
        blue = UInt8(value & 0xFF)
    }

    init(_ value: JSONValue?, where location: String) throws {
        guard let text = value?.objectValue?["color"]?.stringValue ?? value?.stringValue else {
            throw ScriptError("\(location) needs {\"color\": \"#rrggbb\"}")
        }
        try self.init(text, where: location)
    }
}

/// Text taken from the prompt (`{"quoted": N}`: the N-th «…» of the first user message) or given.
enum ScriptText: Sendable, Hashable {
    case literal(String)
    case quoted(Int)

    init(_ value: JSONValue?, where location: String) throws {
        if let text = value?.stringValue {
            self = .literal(text)
        } else if let object = value?.objectValue, let text = object["text"]?.stringValue {
            self = .literal(text)
        } else if let object = value?.objectValue, let index = object["quoted"]?.intValue {
            self = .quoted(Int(index))
        } else {
            throw ScriptError("\(location) needs a string, {\"text\": …} or {\"quoted\": N}")
        }
    }
}

struct ScriptAction: Sendable {
    enum Kind: Sendable {
        case click(ColorTarget, button: String, clicks: Int)
        case move(ColorTarget)
        case type(ScriptText)
        case key(String)
        case drag(from: ColorTarget, to: ColorTarget)
        case scroll(ColorTarget, direction: String, amount: Int)
        case screenshot
        /// A `computer` call with this input as given (hold_key, wait, cursor_position…).
        case computer(JSONObject)
        /// A custom tool; `{"quoted": N}` values are filled from the prompt.
        case tool(String, input: JSONValue)
        case end(String)
        /// A 200 whose tool call is unusable: arguments that are not JSON (OpenAI), no action
        /// (Anthropic, whose input is always an object).
        case malformed
        case unknownTool(String)
    }

    var kind: Kind
    /// Text to say along with the tool call.
    var say: String?
    /// Think time before this answer.
    var delaySeconds: Double

    init(kind: Kind, say: String?, delaySeconds: Double) {
        self.kind = kind
        self.say = say
        self.delaySeconds = delaySeconds
    }

    init(_ object: JSONObject, where location: String) throws {
        say = object["say"]?.stringValue
        delaySeconds = object["delay_seconds"]?.doubleValue ?? 0
        if let target = object["click"] {
            let clicks = Int(object["clicks"]?.intValue ?? 1)
            kind = .click(
                try ColorTarget(target, where: location + ".click"), button: object["button"]?.stringValue ?? "left",
                clicks: max(1, min(3, clicks)))
        } else if let target = object["move"] {
            kind = .move(try ColorTarget(target, where: location + ".move"))
        } else if let text = object["type"] {
            kind = .type(try ScriptText(text, where: location + ".type"))
        } else if let key = object["key"]?.stringValue {
            kind = .key(key)
        } else if let drag = object["drag"]?.objectValue {
            kind = .drag(
                from: try ColorTarget(drag["from_color"]?.stringValue ?? "", where: location + ".drag.from_color"),
                to: try ColorTarget(drag["to_color"]?.stringValue ?? "", where: location + ".drag.to_color"))
        } else if let target = object["scroll"] {
            kind = .scroll(
                try ColorTarget(target, where: location + ".scroll"),
                direction: object["direction"]?.stringValue ?? "down", amount: Int(object["amount"]?.intValue ?? 3))
        } else if object["screenshot"] != nil {
            kind = .screenshot
        } else if let input = object["computer"]?.objectValue {
            kind = .computer(input)
        } else if let name = object["tool"]?.stringValue {
            kind = .tool(name, input: object["input"] ?? .object([:]))
        } else if let text = object["end"] {
            kind = .end(text.stringValue ?? "All done.")
        } else if object["malformed"]?.boolValue == true {
            kind = .malformed
        } else if let name = object["unknown_tool"]?.stringValue {
            kind = .unknownTool(name)
        } else if object["delay_seconds"] != nil {
            kind = .screenshot
        } else {
            throw ScriptError("\(location): no known action in \(JSONValue.object(object).compactJSON.prefix(120))")
        }
    }
}
