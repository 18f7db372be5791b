import CyberdeskAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The tools a model gets besides `computer`, named exactly as STEPS.md's `func_name`s so
/// that each call becomes the same step a trajectory would hold, and how calls become steps.
public enum PlannerTools {
    /// The custom tools, with their kwargs as input schema.
    public static let custom: [CustomTool] = [
        tool(
            "set_output", "Put a value into the run's output_data under key (call it once per output field).",
            ["key": string("the output field"), "value": ["description": "the value (any JSON)"]],
            required: ["key", "value"]),
        tool(
            "fail", "End the run as failed when the task cannot be done; say why.",
            ["message": string("why the task cannot be done")], required: ["message"]),
        tool(
            "execute_terminal_command", "Run a shell command on the machine (/bin/sh -c) and get its output.",
            [
                "command": string("the command"), "timeout": number("seconds, default 30"),
                "output_key": string("also store the trimmed stdout in output_data under this key"),
                "working_directory": string("directory to run in, default the home"),
            ], required: ["command"]),
        tool(
            "copy_to_clipboard", "Press ctrl+c and store the copied text in output_data under key.",
            ["key": string("the output field")], required: ["key"]),
        tool(
            "read_file", "Read a text file on the machine into output_data under output_key and see its content.",
            ["path": string("the file (~ is the home)"), "output_key": string("the output field")],
            required: ["path", "output_key"]),
        tool(
            "write_file", "Write text to a file on the machine.",
            [
                "path": string("the file (~ is the home)"), "content": string("the text"),
                "mode": ["type": "string", "enum": ["write", "append"]],
            ], required: ["path", "content"]),
        tool(
            "mark_file_for_export", "Upload a file from ~/CyberdeskTransfers as an output attachment of the run.",
            ["path": string("the file")], required: ["path"]),
        tool(
            "wait", "Wait before looking at the screen again.", ["seconds": number("how long")], required: ["seconds"]),
    ]

    static var customNames: [String] { custom.map(\.name) }

    private static func tool(_ name: String, _ description: String, _ properties: JSONObject, required: [String])
        -> CustomTool
    {
        CustomTool(
            name: name, description: description,
            inputSchema: [
                "type": "object", "properties": .object(properties),
                "required": .array(required.map { .string($0) }),
            ])
    }

    private static func string(_ description: String) -> JSONValue {
        ["type": "string", "description": .string(description)]
    }

    private static func number(_ description: String) -> JSONValue {
        ["type": "number", "description": .string(description)]
    }

    // MARK: - Templates

    /// The model's text as a step argument that types exactly that text: every `{` that would
    /// open a placeholder is escaped (`\{`), except `{$name}` for the run's sensitive inputs,
    /// which the machine fills in at type time (the model only ever sees the placeholder).
    public static func escaped(_ text: String, keepingSecrets secrets: Set<String>) -> String {
        guard text.contains("{") else { return text }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "{", let end = secretPlaceholderEnd(in: text, at: index, secrets: secrets) {
                output += text[index..<end]
                index = end
                continue
            }
            if character == "{" { output += "\\" }
            output.append(character)
            index = text.index(after: index)
        }
        return output
    }

    /// The end of `{$name}` starting at `start` when `name` (or its root before a dot) is a
    /// sensitive input of the run.
    private static func secretPlaceholderEnd(in text: String, at start: String.Index, secrets: Set<String>)
        -> String.Index?
    {
        let afterBrace = text.index(after: start)
        guard afterBrace < text.endIndex, text[afterBrace] == "$" else { return nil }
        var cursor = text.index(after: afterBrace)
        var name = ""
        while cursor < text.endIndex, text[cursor] != "}" {
            let c = text[cursor]
            guard c.isLetter || c.isNumber || c == "_" || c == "-" || c == "." else { return nil }
            name.append(c)
            cursor = text.index(after: cursor)
        }
        guard cursor < text.endIndex, !name.isEmpty else { return nil }
        let root = name.split(separator: ".").first.map(String.init) ?? name
        guard secrets.contains(name) || secrets.contains(root) else { return nil }
        return text.index(after: cursor)
    }

    /// Every string in `value` escaped (secrets are allowed only in `type`, so none is kept).
    static func escapedJSON(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): .string(escaped(text, keepingSecrets: []))
        case .array(let items): .array(items.map(escapedJSON))
        case .object(let members): .object(members.mapValues(escapedJSON))
        default: value
        }
    }

    /// A step as the trajectory keeps it: typed text equal to an input value becomes
    /// `{name}`, so a replay with other inputs types those.
    static func templated(_ step: JSONValue, inputs: JSONObject, secrets: Set<String>) -> JSONValue {
        let field: String
        switch step.objectValue?["func_name"]?.stringValue {
        case "type": field = "text"
        case "set_output": field = "value"
        default: return step
        }
        guard case .object(var object) = step, case .object(var kwargs)? = object["kwargs"],
            case .string(let escapedText)? = kwargs[field]
        else { return step }
        let candidates = inputs.compactMap { name, value -> (String, String)? in
            guard case .string(let text) = value, !text.isEmpty else { return nil }
            return (name, escaped(text, keepingSecrets: secrets))
        }
        // The longest name first, so that one of two equal values is chosen the same way each time.
        if let match = candidates.filter({ $0.1 == escapedText }).sorted(by: { ($0.0.count, $0.0) > ($1.0.count, $1.0) }
        )
        .first {
            kwargs[field] = .string("{" + match.0 + "}")
            object["kwargs"] = .object(kwargs)
        }
        return .object(object)
    }
}
