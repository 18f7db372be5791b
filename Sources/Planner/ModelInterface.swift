import CyberdeskAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// The contract between the planner loop (ControlPlane) and the model adapters (this module).
// Provider-neutral: a conversation of text, images and tool calls; each adapter translates it
// to its wire format and the answer back.

/// The providers this server speaks to. `rawValue` is the LangChain provider name the SDK's
/// `ModelConfigurationCreate.provider` carries.
public enum ModelProvider: String, Sendable, Hashable, CaseIterable {
    /// Anthropic Messages API with the computer-use tool.
    case anthropic
    /// OpenAI-compatible Chat Completions with a `computer` function tool (OpenAI, Azure
    /// OpenAI, vLLM, Ollama, llama.cpp, SGLang, LM Studio).
    case openai

    /// "anthropic, openai": for error messages that name what is supported.
    public static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// How coordinates in the model's tool calls are expressed.
public enum CoordinateSpace: String, Sendable, Hashable {
    /// Pixels of the screenshot as declared in the tool (default).
    case pixels
    /// 0...1000 on both axes (Qwen3-VL and similar).
    case normalized1000 = "normalized_1000"
}

/// One model configuration, resolved for a call: the key already opened from the vault (the
/// configuration's own, else the organization's provider credential). Never logged.
public struct ModelEndpoint: Sendable {
    public var configurationID: String
    public var name: String
    public var provider: ModelProvider
    public var model: String
    /// Nil when neither the configuration nor a provider credential has one (local servers).
    public var apiKey: String?
    public var temperature: Double?
    public var maxTokens: Int?
    /// Per HTTP attempt.
    public var timeoutSeconds: Double
    /// Attempts after the first, for 429, 5xx, timeouts and transport errors.
    public var maxRetries: Int
    /// Provider-specific: `base_url`, `tool_version`, `coordinate_space`, `max_image_long_side`,
    /// `api_version` (Azure), `beta` (Anthropic beta header), extra headers.
    public var additionalParams: JSONObject

    public init(
        configurationID: String, name: String, provider: ModelProvider, model: String, apiKey: String?,
        temperature: Double? = nil, maxTokens: Int? = nil, timeoutSeconds: Double = 120, maxRetries: Int = 2,
        additionalParams: JSONObject = [:]
    ) {
        self.configurationID = configurationID
        self.name = name
        self.provider = provider
        self.model = model
        self.apiKey = apiKey
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.additionalParams = additionalParams
    }
}

/// A piece of a message.
public enum ContentPart: Sendable, Hashable {
    case text(String)
    /// A PNG (or JPEG, by `mediaType`) sent to the model inline.
    case image(data: [UInt8], mediaType: String)
}

/// A tool the model called.
public struct ToolCall: Sendable, Hashable {
    /// The provider's id, echoed in the result.
    public var id: String
    public var name: String
    public var input: JSONObject

    public init(id: String, name: String, input: JSONObject) {
        self.id = id
        self.name = name
        self.input = input
    }
}

/// What a tool call did, sent back to the model.
public struct ToolResult: Sendable, Hashable {
    public var toolCallID: String
    /// Text and, for the computer tool, the screenshot after the action.
    public var content: [ContentPart]
    public var isError: Bool

    public init(toolCallID: String, content: [ContentPart], isError: Bool = false) {
        self.toolCallID = toolCallID
        self.content = content
        self.isError = isError
    }
}

/// One message of the conversation.
public enum ConversationMessage: Sendable, Hashable {
    case user([ContentPart])
    case assistant(text: String?, toolCalls: [ToolCall])
    /// Results of the previous assistant message's tool calls, in order, optionally followed by
    /// more user content (e.g. a re-ask after an output-schema violation).
    case toolResults([ToolResult], followUp: [ContentPart] = [])
}

/// A custom tool besides `computer` (named as a STEPS.md `func_name`).
public struct CustomTool: Sendable, Hashable {
    public var name: String
    public var description: String
    /// JSON Schema of the input object.
    public var inputSchema: JSONObject

    public init(name: String, description: String, inputSchema: JSONObject) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
    }
}

/// Everything one model call needs.
public struct ModelRequest: Sendable {
    public var system: String
    public var messages: [ConversationMessage]
    /// The size of the screenshots sent (already scaled); the computer tool declares exactly this.
    public var screen: DisplaySize
    public var tools: [CustomTool]
    /// Whether the `computer` tool is declared. A question that only wants an answer through a
    /// custom tool (cache detection) leaves it out, so a model that is not a computer-use model
    /// can answer it too.
    public var computerTool: Bool

    public init(
        system: String, messages: [ConversationMessage], screen: DisplaySize, tools: [CustomTool],
        computerTool: Bool = true
    ) {
        self.system = system
        self.messages = messages
        self.screen = screen
        self.tools = tools
        self.computerTool = computerTool
    }
}

public struct TokenUsage: Sendable, Hashable {
    public var inputTokens: Int
    public var outputTokens: Int

    public init(inputTokens: Int, outputTokens: Int) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
    }
}

/// The model's answer to one request.
public struct ModelTurn: Sendable, Hashable {
    /// What the model said (may be empty).
    public var text: String
    /// In the order given. The computer tool is named `computer` for both providers.
    public var toolCalls: [ToolCall]
    /// True when the model ended its turn without calling a tool (`end_turn`, `stop`).
    public var endedTurn: Bool
    public var usage: TokenUsage
    /// HTTP attempts this answer took (1 without retries).
    public var attempts: Int

    public init(text: String, toolCalls: [ToolCall], endedTurn: Bool, usage: TokenUsage, attempts: Int = 1) {
        self.text = text
        self.toolCalls = toolCalls
        self.endedTurn = endedTurn
        self.usage = usage
        self.attempts = attempts
    }
}

/// A point in the model's screenshot space (pixels of `ModelRequest.screen`), after the adapter
/// converted `normalized_1000` coordinates.
public struct ModelPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// One action of the `computer` tool, in the Anthropic computer-use vocabulary (the OpenAI
/// function tool's `action` enum mirrors it). Parsed by
/// ``ComputerAction/parse(_:screen:space:configuration:)``.
public enum ComputerAction: Sendable, Hashable {
    case screenshot
    /// left_click, right_click, middle_click, double_click, triple_click; `modifiers` is the
    /// `text` key held during the click (xdotool syntax), if any.
    case click(button: MouseButtonName, clicks: Int, at: ModelPoint?, modifiers: String?)
    case mouseMove(ModelPoint)
    case drag(from: ModelPoint, to: ModelPoint)
    case mouseDown(ModelPoint?)
    case mouseUp(ModelPoint?)
    case scroll(direction: ScrollDirectionName, amount: Int, at: ModelPoint?, modifiers: String?)
    case type(String)
    /// xdotool syntax: "ctrl+s", "Return".
    case key(String)
    case holdKey(String, seconds: Double)
    case wait(seconds: Double)
    case cursorPosition
}

/// Why a model call failed. Each message names the model configuration and the cause, fit for
/// a run's `error`; none contains the API key.
public enum ModelError: Error, Sendable, Hashable {
    /// 401/403: the key was refused. Never retried.
    case unauthorized(configuration: String, detail: String)
    /// 429 after every retry.
    case rateLimited(configuration: String, retryAfter: Double?)
    /// 5xx after every retry, or another unexpected status.
    case server(configuration: String, status: Int, detail: String)
    /// No answer within `timeout_seconds`, after every retry.
    case timeout(configuration: String, seconds: Double)
    /// Connection refused, DNS, TLS: after every retry.
    case transport(configuration: String, detail: String)
    /// A 2xx whose body is not the provider's format, or a tool call whose input does not fit.
    case malformed(configuration: String, detail: String)
    /// The configuration itself cannot be used (unknown provider, bad base_url, bad params).
    case invalidConfiguration(configuration: String, detail: String)
    /// The calling task was cancelled (the run was cancelled): the call stopped at once and was
    /// not retried. A case of its own because `throws(ModelError)` cannot carry
    /// `CancellationError`, and the loop must tell a cancel from a failure.
    case cancelled(configuration: String)

    public var message: String {
        switch self {
        case .unauthorized(let name, let detail): "model configuration '\(name)': the API key was refused (\(detail))"
        case .rateLimited(let name, let after):
            "model configuration '\(name)': rate limited (429) on every retry"
                + (after.map { "; the provider asked to wait \($0) s" } ?? "")
        case .server(let name, let status, let detail):
            "model configuration '\(name)': HTTP \(status) from the model (\(detail))"
        case .timeout(let name, let seconds): "model configuration '\(name)': no answer within \(seconds) s"
        case .transport(let name, let detail): "model configuration '\(name)': cannot reach the model (\(detail))"
        case .malformed(let name, let detail):
            "model configuration '\(name)': unusable answer from the model (\(detail))"
        case .invalidConfiguration(let name, let detail): "model configuration '\(name)': \(detail)"
        case .cancelled(let name): "model configuration '\(name)': the call was cancelled"
        }
    }
}

/// A model the planner can call. Implementations: ``AnthropicAdapter``, ``OpenAIAdapter``;
/// ``ModelClient`` picks one for an endpoint and adds the retry and timeout rules.
public protocol ModelAdapter: Sendable {
    /// One model call (retries included). Cancelling the calling task stops it at once.
    func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn
    /// One small real request that proves the endpoint, model and key work
    /// (`/v1/provider-credentials/{slot}/validate`).
    func validate() async throws(ModelError)
}
