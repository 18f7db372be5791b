import CyberdeskAPI

/// The request rules the real APIs enforce with a 400, checked so that an adapter bug shows up
/// against the scripted model as it would against the vendor: required fields, roles, every
/// tool result answering a tool call of the assistant message just before it, images as
/// base64 / data URLs, text-only `tool` messages (what many OpenAI-compatible servers demand).
enum WireValidator {
    /// Nil when the body is acceptable, else what a vendor would say.
    static func problem(_ body: JSONObject, format: WireFormatName) -> String? {
        guard let model = body["model"]?.stringValue, !model.isEmpty else { return "model: field required" }
        guard let messages = body["messages"]?.arrayValue, !messages.isEmpty else {
            return "messages: at least one message is required"
        }
        switch format {
        case .anthropic: return anthropic(body, messages)
        case .openai: return openai(body, messages)
        }
    }

    private static func anthropic(_ body: JSONObject, _ messages: [JSONValue]) -> String? {
        guard let maxTokens = body["max_tokens"]?.intValue, maxTokens >= 1 else { return "max_tokens: field required" }
        for (index, tool) in (body["tools"]?.arrayValue ?? []).enumerated() {
            guard let tool = tool.objectValue, let name = tool["name"]?.stringValue else {
                return "tools.\(index).name: field required"
            }
            if let type = tool["type"]?.stringValue, type.hasPrefix("computer_") {
                guard (tool["display_width_px"]?.intValue ?? 0) > 0, (tool["display_height_px"]?.intValue ?? 0) > 0
                else { return "tools.\(index): display_width_px and display_height_px are required" }
            } else if tool["input_schema"]?.objectValue == nil {
                return "tools.\(index).input_schema: field required for tool '\(name)'"
            }
        }
        var previousToolUses: Set<String> = []
        for (index, message) in messages.enumerated() {
            guard let message = message.objectValue, let role = message["role"]?.stringValue,
                role == "user" || role == "assistant"
            else { return "messages.\(index).role: must be user or assistant" }
            if index == 0, role != "user" { return "messages.0: the first message must use the user role" }
            var toolUses: Set<String> = []
            let blocks: [JSONValue]
            if message["content"]?.stringValue != nil {
                blocks = []
            } else if let list = message["content"]?.arrayValue, !list.isEmpty {
                blocks = list
            } else {
                return "messages.\(index).content: must be a string or a non-empty list"
            }
            for (blockIndex, block) in blocks.enumerated() {
                let place = "messages.\(index).content.\(blockIndex)"
                guard let block = block.objectValue, let type = block["type"]?.stringValue else {
                    return "\(place).type: field required"
                }
                switch type {
                case "text":
                    guard let text = block["text"]?.stringValue, !text.isEmpty else {
                        return "\(place): text content blocks must be non-empty"
                    }
                case "image":
                    if let problem = anthropicImage(block, place: place) { return problem }
                case "tool_use":
                    guard role == "assistant", let id = block["id"]?.stringValue, block["name"]?.stringValue != nil,
                        block["input"]?.objectValue != nil
                    else { return "\(place): tool_use needs id, name and an input object, in an assistant message" }
                    toolUses.insert(id)
                case "tool_result":
                    guard role == "user", let id = block["tool_use_id"]?.stringValue else {
                        return "\(place): tool_result needs tool_use_id, in a user message"
                    }
                    guard previousToolUses.contains(id) else {
                        return "\(place): unexpected tool_use_id \(id) in tool_result blocks: each tool_result block "
                            + "must have a corresponding tool_use block in the previous message"
                    }
                    for (partIndex, part) in (block["content"]?.arrayValue ?? []).enumerated() {
                        let partPlace = "\(place).content.\(partIndex)"
                        switch part.objectValue?["type"]?.stringValue {
                        case "text": continue
                        case "image":
                            if let problem = anthropicImage(part.objectValue ?? [:], place: partPlace) {
                                return problem
                            }
                        default: return "\(partPlace): tool_result content must be text or image blocks"
                        }
                    }
                default:
                    return "\(place).type: unknown block type '\(type)'"
                }
            }
            previousToolUses = toolUses
        }
        return nil
    }

    private static func anthropicImage(_ block: JSONObject, place: String) -> String? {
        guard let source = block["source"]?.objectValue, source["type"]?.stringValue == "base64",
            let mediaType = source["media_type"]?.stringValue,
            ["image/png", "image/jpeg", "image/gif", "image/webp"].contains(mediaType),
            let data = source["data"]?.stringValue, !data.isEmpty
        else { return "\(place).source: a base64 image with media_type png, jpeg, gif or webp is required" }
        return nil
    }

    private static func openai(_ body: JSONObject, _ messages: [JSONValue]) -> String? {
        for (index, tool) in (body["tools"]?.arrayValue ?? []).enumerated() {
            guard let tool = tool.objectValue, tool["type"]?.stringValue == "function",
                let function = tool["function"]?.objectValue, function["name"]?.stringValue != nil
            else { return "tools[\(index)]: a function tool with a name is required" }
            if let parameters = function["parameters"], parameters.objectValue == nil {
                return "tools[\(index)].function.parameters: must be an object"
            }
        }
        var openCalls: Set<String> = []
        for (index, message) in messages.enumerated() {
            guard let message = message.objectValue, let role = message["role"]?.stringValue else {
                return "messages[\(index)].role: field required"
            }
            switch role {
            case "system":
                guard message["content"]?.stringValue != nil else {
                    return "messages[\(index)].content: must be a string"
                }
                openCalls = []
            case "user":
                if let problem = openAIUserContent(message["content"], place: "messages[\(index)]") { return problem }
                openCalls = []
            case "assistant":
                openCalls = []
                for (callIndex, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
                    guard let call = call.objectValue, let id = call["id"]?.stringValue,
                        let arguments = call["function"]?.objectValue?["arguments"]?.stringValue
                    else {
                        return
                            "messages[\(index)].tool_calls[\(callIndex)]: id and function.arguments (a string) are required"
                    }
                    _ = arguments
                    openCalls.insert(id)
                }
            case "tool":
                guard let id = message["tool_call_id"]?.stringValue, openCalls.contains(id) else {
                    return "messages[\(index)]: messages with role 'tool' must be a response to a preceding message "
                        + "with 'tool_calls'"
                }
                guard message["content"]?.stringValue != nil else {
                    return "messages[\(index)].content: tool message content must be a string"
                }
            default:
                return "messages[\(index)].role: unknown role '\(role)'"
            }
        }
        return nil
    }

    private static func openAIUserContent(_ content: JSONValue?, place: String) -> String? {
        if content?.stringValue != nil { return nil }
        guard let parts = content?.arrayValue, !parts.isEmpty else { return "\(place).content: field required" }
        for (index, part) in parts.enumerated() {
            guard let part = part.objectValue else { return "\(place).content[\(index)]: must be an object" }
            switch part["type"]?.stringValue {
            case "text":
                guard part["text"]?.stringValue != nil else { return "\(place).content[\(index)].text: field required" }
            case "image_url":
                guard let url = part["image_url"]?.objectValue?["url"]?.stringValue,
                    url.hasPrefix("data:image/") || url.hasPrefix("http")
                else { return "\(place).content[\(index)].image_url.url: a data: or http(s) URL is required" }
            default:
                return "\(place).content[\(index)].type: must be text or image_url"
            }
        }
        return nil
    }
}
