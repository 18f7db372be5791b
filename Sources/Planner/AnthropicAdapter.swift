import AsyncHTTPClient
import CyberdeskAPI
import Logging

/// The Anthropic Messages API with the computer-use tool: `POST {base_url}/v1/messages`.
///
/// `additional_params`: `base_url` (default `https://api.anthropic.com`), `tool_version`
/// (default `computer_20250124`; its date picks the beta header, `computer_20251124` →
/// `computer-use-2025-11-24`), `beta` (the `anthropic-beta` header as given, a string or a list),
/// `headers` (extra headers).
public struct AnthropicAdapter: ModelAdapter, WireFormat {
    public let endpoint: ModelEndpoint
    let transport: ModelTransport

    public static let defaultBaseURL = "https://api.anthropic.com"
    public static let defaultToolVersion = "computer_20250124"
    public static let apiVersion = "2023-06-01"
    /// Anthropic requires `max_tokens`; enough for a reasoning sentence and a few tool calls.
    public static let defaultMaxTokens = 4096

    public init(endpoint: ModelEndpoint, httpClient: HTTPClient, logger: Logger, retry: RetryPolicy = .standard) {
        self.endpoint = endpoint
        self.transport = ModelTransport(endpoint: endpoint, httpClient: httpClient, logger: logger, retry: retry)
    }

    // MARK: Request

    /// `additional_params.tool_version`, else `computer_20250124`.
    public var toolVersion: String {
        endpoint.additionalParams["tool_version"]?.stringValue.map(WireJSON.trimmed).flatMap { $0.isEmpty ? nil : $0 }
            ?? Self.defaultToolVersion
    }

    /// `additional_params.beta`, else the beta that goes with the tool version
    /// (`computer_YYYYMMDD` → `computer-use-YYYY-MM-DD`).
    public var betaHeader: String? {
        if let beta = endpoint.additionalParams["beta"] {
            if let text = beta.stringValue { return text.isEmpty ? nil : text }
            if let list = beta.arrayValue { return list.compactMap(\.stringValue).joined(separator: ",") }
            return nil
        }
        let version = toolVersion
        let digits = version.split(separator: "_").last.map(String.init) ?? ""
        guard version.hasPrefix("computer_"), digits.count == 8, digits.allSatisfy(\.isNumber) else {
            return "computer-use-2025-01-24"
        }
        let chars = Array(digits)
        return "computer-use-\(String(chars[0..<4]))-\(String(chars[4..<6]))-\(String(chars[6..<8]))"
    }

    func url() throws(ModelError) -> String {
        WireJSON.versionedURL(base: try WireJSON.baseURL(endpoint, default: Self.defaultBaseURL), path: "messages")
    }

    func headers(beta: Bool) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("anthropic-version", Self.apiVersion)]
        if let key = endpoint.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
        if beta, let betaHeader, !betaHeader.isEmpty { headers.append(("anthropic-beta", betaHeader)) }
        return headers + WireJSON.extraHeaders(endpoint)
    }

    /// The Messages API body for `request`.
    public func requestBody(for request: ModelRequest) -> JSONObject {
        var tools: [JSONValue] = []
        if request.computerTool {
            tools.append([
                "type": .string(toolVersion), "name": "computer",
                "display_width_px": .int(Int64(request.screen.width)),
                "display_height_px": .int(Int64(request.screen.height)),
            ])
        }
        for tool in request.tools {
            tools.append([
                "name": .string(tool.name), "description": .string(tool.description),
                "input_schema": .object(tool.inputSchema),
            ])
        }
        var body: JSONObject = [
            "model": .string(endpoint.model),
            "max_tokens": .int(Int64(endpoint.maxTokens ?? Self.defaultMaxTokens)),
            "messages": .array(request.messages.map(Self.message)),
            "tools": .array(tools),
        ]
        if !request.system.isEmpty { body["system"] = .string(request.system) }
        if let temperature = endpoint.temperature { body["temperature"] = .double(temperature) }
        return body
    }

    func wireRequest(for request: ModelRequest) throws(ModelError) -> WireRequest {
        try endpoint.checkAdditionalParams()
        return WireRequest(
            url: try url(), headers: headers(beta: request.computerTool),
            body: WireJSON.encode(requestBody(for: request)))
    }

    func validationRequest() throws(ModelError) -> WireRequest {
        let body: JSONObject = [
            "model": .string(endpoint.model), "max_tokens": 1,
            "messages": [["role": "user", "content": "ping"]],
        ]
        return WireRequest(url: try url(), headers: headers(beta: false), body: WireJSON.encode(body))
    }

    static func message(_ message: ConversationMessage) -> JSONValue {
        switch message {
        case .user(let parts):
            let blocks = nonEmpty(parts).map(block)
            return [
                "role": "user", "content": .array(blocks.isEmpty ? [["type": "text", "text": "(empty)"]] : blocks),
            ]
        case .assistant(let text, let toolCalls):
            var content: [JSONValue] = []
            if let text, !text.isEmpty { content.append(["type": "text", "text": .string(text)]) }
            for call in toolCalls {
                content.append([
                    "type": "tool_use", "id": .string(call.id), "name": .string(call.name),
                    "input": .object(call.input),
                ])
            }
            // The API refuses an empty assistant message; one without text or calls is rare (an
            // empty end turn kept in the history).
            if content.isEmpty { content.append(["type": "text", "text": "(no answer)"]) }
            return ["role": "assistant", "content": .array(content)]
        case .toolResults(let results, let followUp):
            var content: [JSONValue] = results.map { result in
                var parts = nonEmpty(result.content).map(block)
                if parts.isEmpty { parts = [["type": "text", "text": result.isError ? "failed" : "done"]] }
                return [
                    "type": "tool_result", "tool_use_id": .string(result.toolCallID), "content": .array(parts),
                    "is_error": .bool(result.isError),
                ]
            }
            content += nonEmpty(followUp).map(block)
            return ["role": "user", "content": .array(content)]
        }
    }

    /// The API refuses empty text blocks ("text content blocks must be non-empty").
    static func nonEmpty(_ parts: [ContentPart]) -> [ContentPart] {
        parts.filter { part in
            if case .text(let text) = part { return !text.isEmpty }
            return true
        }
    }

    static func block(_ part: ContentPart) -> JSONValue {
        switch part {
        case .text(let text): ["type": "text", "text": .string(text)]
        case .image(let data, let mediaType):
            [
                "type": "image",
                "source": ["type": "base64", "media_type": .string(mediaType), "data": .string(WireJSON.base64(data))],
            ]
        }
    }

    // MARK: Response

    /// A Messages API response: its text blocks joined, its `tool_use` blocks in order, usage.
    /// Other block types (thinking, server tools) are skipped.
    public func parseTurn(_ body: [UInt8]) throws(ModelError) -> ModelTurn {
        let name = endpoint.name
        let object = try WireJSON.decodeObject(body, configuration: name)
        if object["type"]?.stringValue == "error" {
            throw .malformed(
                configuration: name, detail: "a 2xx carrying an error: \(ProviderErrorBody.message(body, status: 200))")
        }
        guard let content = object["content"]?.arrayValue else {
            throw .malformed(configuration: name, detail: "the response has no 'content' list")
        }
        var texts: [String] = []
        var calls: [ToolCall] = []
        for (index, block) in content.enumerated() {
            guard let block = block.objectValue, let type = block["type"]?.stringValue else {
                throw .malformed(configuration: name, detail: "content[\(index)] is not a typed block")
            }
            switch type {
            case "text":
                if let text = block["text"]?.stringValue, !text.isEmpty { texts.append(text) }
            case "tool_use":
                guard let id = block["id"]?.stringValue, let toolName = block["name"]?.stringValue else {
                    throw .malformed(configuration: name, detail: "tool_use block \(index) has no id or name")
                }
                guard let input = block["input"]?.objectValue else {
                    throw .malformed(
                        configuration: name, detail: "the input of tool call '\(toolName)' is not a JSON object")
                }
                calls.append(ToolCall(id: id, name: toolName, input: input))
            default:
                continue
            }
        }
        let stopReason = object["stop_reason"]?.stringValue
        if stopReason == "tool_use", calls.isEmpty {
            throw .malformed(configuration: name, detail: "stop_reason is tool_use but no tool_use block came")
        }
        let usage = object["usage"]?.objectValue ?? [:]
        // `pause_turn` (a long server-side turn paused) is not an end: the loop sends it back.
        let ended = calls.isEmpty && stopReason != "pause_turn"
        return ModelTurn(
            text: texts.joined(separator: "\n"), toolCalls: calls, endedTurn: ended,
            usage: TokenUsage(
                // Cached prompt tokens are reported apart; they still count against a budget.
                inputTokens: Int(
                    (usage["input_tokens"]?.intValue ?? 0) + (usage["cache_creation_input_tokens"]?.intValue ?? 0)
                        + (usage["cache_read_input_tokens"]?.intValue ?? 0)),
                outputTokens: Int(usage["output_tokens"]?.intValue ?? 0)))
    }
}
