import AsyncHTTPClient
import CyberdeskAPI
import Logging

/// OpenAI-compatible Chat Completions with a `computer` function tool: OpenAI, Azure OpenAI,
/// vLLM, Ollama, llama.cpp, SGLang, LM Studio.
///
/// `additional_params`: `base_url` (default `https://api.openai.com`; one ending in `/v1` gets
/// no second `/v1`), `api_version` (Azure: `{base_url}/openai/deployments/{model}/chat/completions
/// ?api-version=…` with an `api-key` header), `coordinate_space` (`pixels` or `normalized_1000`),
/// `max_tokens_param` (`max_completion_tokens` for OpenAI reasoning models), `headers` (extra
/// headers).
///
/// Screenshots after a tool call travel in a `user` message after the `tool` messages, because
/// many compatible servers accept only text in `tool` messages.
public struct OpenAIAdapter: ModelAdapter, WireFormat {
    public let endpoint: ModelEndpoint
    let transport: ModelTransport

    public static let defaultBaseURL = "https://api.openai.com"

    public init(endpoint: ModelEndpoint, httpClient: HTTPClient, logger: Logger, retry: RetryPolicy = .standard) {
        self.endpoint = endpoint
        self.transport = ModelTransport(endpoint: endpoint, httpClient: httpClient, logger: logger, retry: retry)
    }

    // MARK: Request

    /// `additional_params.max_tokens_param`: `max_tokens` (what compatible servers take) unless
    /// it says `max_completion_tokens`, which OpenAI's reasoning models require instead.
    var maxTokensField: String {
        endpoint.additionalParams["max_tokens_param"]?.stringValue == "max_completion_tokens"
            ? "max_completion_tokens" : "max_tokens"
    }

    var azureAPIVersion: String? {
        endpoint.additionalParams["api_version"]?.stringValue.map(WireJSON.trimmed).flatMap { $0.isEmpty ? nil : $0 }
    }

    func url() throws(ModelError) -> String {
        let base = try WireJSON.baseURL(endpoint, default: Self.defaultBaseURL)
        guard let version = azureAPIVersion else { return WireJSON.versionedURL(base: base, path: "chat/completions") }
        return "\(base)/openai/deployments/\(Self.percentEncoded(endpoint.model))/chat/completions"
            + "?api-version=\(Self.percentEncoded(version))"
    }

    func headers() -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        if let key = endpoint.apiKey, !key.isEmpty {
            headers.append(azureAPIVersion == nil ? ("authorization", "Bearer \(key)") : ("api-key", key))
        }
        return headers + WireJSON.extraHeaders(endpoint)
    }

    /// The `computer` function tool: the Anthropic vocabulary as a JSON Schema, the screen size
    /// (or the 0-1000 scale) in the description, since nothing else tells an OpenAI-style model
    /// what its coordinates mean.
    public static func computerTool(screen: DisplaySize, space: CoordinateSpace) -> JSONValue {
        let coordinates: String
        switch space {
        case .pixels:
            coordinates =
                "The screen is \(screen.width)x\(screen.height) pixels (width x height); coordinates are [x, y] in "
                + "pixels from the top-left corner, x in 0...\(screen.width - 1), y in 0...\(screen.height - 1)."
        case .normalized1000:
            coordinates =
                "Coordinates are [x, y] normalized to 0-1000 on both axes whatever the screen's pixel size: "
                + "[0, 0] is the top-left corner, [1000, 1000] the bottom-right (coordinate_space: normalized_1000)."
        }
        let point: JSONValue = [
            "type": "array", "items": ["type": "number"], "minItems": 2, "maxItems": 2,
        ]
        let parameters: JSONValue = [
            "type": "object",
            "properties": [
                "action": [
                    "type": "string", "enum": .array(ComputerAction.actionNames.map { .string($0) }),
                    "description": "What to do. screenshot shows the screen as it is now.",
                ],
                "coordinate": point.merging(["description": "[x, y]: where to click, move, scroll or end a drag."]),
                "start_coordinate": point.merging(["description": "[x, y]: where left_click_drag starts."]),
                "text": [
                    "type": "string",
                    "description": .string(
                        "For type: the text. For key and hold_key: a key or combination in xdotool syntax "
                            + "(Return, ctrl+s). For clicks and scroll: modifier keys to hold (shift)."),
                ],
                "scroll_direction": ["type": "string", "enum": ["up", "down", "left", "right"]],
                "scroll_amount": ["type": "integer", "minimum": 0, "description": "Scroll wheel clicks."],
                "duration": ["type": "number", "minimum": 0, "description": "Seconds, for wait and hold_key."],
            ],
            "required": ["action"],
        ]
        return [
            "type": "function",
            "function": [
                "name": "computer",
                "description": .string(
                    "Use the mouse and keyboard of the computer and take screenshots. " + coordinates),
                "parameters": parameters,
            ],
        ]
    }

    /// The Chat Completions body for `request`.
    public func requestBody(for request: ModelRequest) -> JSONObject {
        var tools = request.computerTool ? [Self.computerTool(screen: request.screen, space: endpoint.coordinateSpace)] : []
        for tool in request.tools {
            tools.append([
                "type": "function",
                "function": [
                    "name": .string(tool.name), "description": .string(tool.description),
                    "parameters": .object(tool.inputSchema),
                ],
            ])
        }
        var messages: [JSONValue] = []
        if !request.system.isEmpty { messages.append(["role": "system", "content": .string(request.system)]) }
        for message in request.messages { messages += Self.messages(message) }
        var body: JSONObject = ["model": .string(endpoint.model), "messages": .array(messages), "tools": .array(tools)]
        if let maxTokens = endpoint.maxTokens { body[maxTokensField] = .int(Int64(maxTokens)) }
        if let temperature = endpoint.temperature { body["temperature"] = .double(temperature) }
        return body
    }

    func wireRequest(for request: ModelRequest) throws(ModelError) -> WireRequest {
        try endpoint.checkAdditionalParams()
        return WireRequest(url: try url(), headers: headers(), body: WireJSON.encode(requestBody(for: request)))
    }

    func validationRequest() throws(ModelError) -> WireRequest {
        let body: JSONObject = [
            "model": .string(endpoint.model), "messages": [["role": "user", "content": "ping"]],
            maxTokensField: 1,
        ]
        return WireRequest(url: try url(), headers: headers(), body: WireJSON.encode(body))
    }

    static func messages(_ message: ConversationMessage) -> [JSONValue] {
        switch message {
        case .user(let parts):
            return [["role": "user", "content": content(parts)]]
        case .assistant(let text, let toolCalls):
            var object: JSONObject = ["role": "assistant"]
            object["content"] = text.map { JSONValue.string($0) } ?? (toolCalls.isEmpty ? JSONValue.string("") : .null)
            if !toolCalls.isEmpty {
                object["tool_calls"] = .array(
                    toolCalls.map { call in
                        [
                            "id": .string(call.id), "type": "function",
                            "function": [
                                "name": .string(call.name),
                                "arguments": .string(JSONValue.object(call.input).compactJSON),
                            ],
                        ]
                    })
            }
            return [.object(object)]
        case .toolResults(let results, let followUp):
            var out: [JSONValue] = []
            var after: [ContentPart] = []
            for result in results {
                var text = WireJSON.joinedText(result.content)
                if text.isEmpty { text = result.isError ? "failed" : "done" }
                if result.isError { text = "Error: " + text }
                let images = result.content.filter { part in
                    if case .image = part { return true }
                    return false
                }
                if !images.isEmpty {
                    text += " (the screenshot follows in the next user message)"
                    after.append(.text("Screenshot after tool call \(result.toolCallID):"))
                    after += images
                }
                out.append(["role": "tool", "tool_call_id": .string(result.toolCallID), "content": .string(text)])
            }
            after += followUp
            if !after.isEmpty { out.append(["role": "user", "content": content(after)]) }
            return out
        }
    }

    /// A plain string for text only (what every server accepts), else content parts with the
    /// images in place between the texts.
    static func content(_ parts: [ContentPart]) -> JSONValue {
        if parts.count == 1, case .text(let text) = parts[0] { return .string(text) }
        return .array(
            parts.map { part in
                switch part {
                case .text(let text): ["type": "text", "text": .string(text)]
                case .image(let data, let mediaType):
                    [
                        "type": "image_url",
                        "image_url": ["url": .string("data:\(mediaType);base64,\(WireJSON.base64(data))")],
                    ]
                }
            })
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    // MARK: Response

    /// `choices[0].message`: its content (a string, or text parts), its `tool_calls` with
    /// `function.arguments` a JSON string holding an object (an object itself is accepted too,
    /// as some Ollama and vLLM parsers send), usage.
    public func parseTurn(_ body: [UInt8]) throws(ModelError) -> ModelTurn {
        let name = endpoint.name
        let object = try WireJSON.decodeObject(body, configuration: name)
        if let error = object["error"], error != .null {
            throw .malformed(
                configuration: name, detail: "a 2xx carrying an error: \(ProviderErrorBody.message(body, status: 200))")
        }
        guard let choices = object["choices"]?.arrayValue else {
            throw .malformed(configuration: name, detail: "the response has no 'choices' list")
        }
        guard let choice = choices.first?.objectValue, let message = choice["message"]?.objectValue else {
            throw .malformed(configuration: name, detail: "the response has no choices[0].message")
        }
        var text = ""
        switch message["content"] {
        case .string(let value): text = value
        case .array(let parts):
            text = parts.compactMap { $0.objectValue?["text"]?.stringValue }.joined(separator: "\n")
        default: break
        }
        var calls: [ToolCall] = []
        for (index, entry) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
            guard let function = entry.objectValue?["function"]?.objectValue,
                let toolName = function["name"]?.stringValue
            else {
                throw .malformed(configuration: name, detail: "tool_calls[\(index)] has no function name")
            }
            let input: JSONObject
            switch function["arguments"] {
            case .object(let value): input = value
            case .string(let arguments):
                let trimmed = WireJSON.trimmed(arguments)
                if trimmed.isEmpty {
                    input = [:]
                } else {
                    guard let decoded = try? WireJSON.decodeObject(Array(trimmed.utf8), configuration: name) else {
                        throw .malformed(
                            configuration: name,
                            detail: "the arguments of tool call '\(toolName)' are not a JSON object: "
                                + WireJSON.preview(Array(arguments.utf8), limit: 80))
                    }
                    input = decoded
                }
            case .none, .null: input = [:]
            default:
                throw .malformed(
                    configuration: name, detail: "the arguments of tool call '\(toolName)' are not a JSON object")
            }
            let id = entry.objectValue?["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "call_\(index)"
            calls.append(ToolCall(id: id, name: toolName, input: input))
        }
        if choice["finish_reason"]?.stringValue == "tool_calls", calls.isEmpty {
            throw .malformed(configuration: name, detail: "finish_reason is tool_calls but no tool call came")
        }
        let usage = object["usage"]?.objectValue ?? [:]
        return ModelTurn(
            text: text, toolCalls: calls, endedTurn: calls.isEmpty,
            usage: TokenUsage(
                inputTokens: Int(usage["prompt_tokens"]?.intValue ?? 0),
                outputTokens: Int(usage["completion_tokens"]?.intValue ?? 0)))
    }
}

extension JSONValue {
    /// An object with `other`'s members added (for schema fragments).
    fileprivate func merging(_ other: JSONObject) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members.merge(other) { _, new in new }
        return .object(members)
    }
}
