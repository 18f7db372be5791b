import CyberdeskAPI

/// What the planner keeps of a run between two `plan` calls, stored with the run (so any
/// replica can answer the next call). Screenshots are kept by image id, never inline: the
/// conversation is rebuilt for each model call from these records and the run's images.
public struct PlannerState: Codable, Sendable, Hashable {
    /// The model configuration performing the run.
    public var configurationID: String
    /// The conversation after the system prompt, in order; the prompt itself is the first
    /// user message's `prompt` part, rebuilt from the workflow each time.
    public var messages: [StoredMessage] = []
    /// Tool calls of the last assistant message waiting for their results.
    public var pending: [PendingCall] = []
    /// The steps of the last answer, by step index, for the trajectory.
    public var sentSteps: [Int: JSONValue] = [:]
    public var nextStepIndex = 0
    /// Steps the machine executed for the model (`total_agentic_steps`).
    public var stepsExecuted = 0
    public var turns = 0
    public var usage: [String: ModelUsage] = [:]
    /// The run's trajectory so far: every executed action as a STEPS.md step.
    public var trajectory: [JSONValue] = []
    /// The screen size the trajectory's coordinates are in.
    public var dimensions: DisplaySize?
    /// The stored trajectory of this run, once it has a step.
    public var trajectoryID: String?
    /// Whether the model was asked again after ending with output that broke the schema.
    public var reasked = false
    /// The last tool calls and the screenshot they were made on, to catch a model repeating
    /// itself on an unchanged screen.
    public var lastSignature: String?
    public var repeatCount = 0
    /// Consecutive answers whose every tool call was invalid.
    public var invalidStreak = 0
    /// The last `plan` call's sequence number and answer, for retried calls.
    public var lastSequence = 0
    public var lastResponse: PlanResponse?
    /// The last `plan` call whose history events were recorded.
    public var eventsSequence = 0
    /// Steps a replay executed before it handed the task to the model (`total_cached_steps`).
    public var cachedSteps = 0
    /// What the model is told of a replay that handed over (steps done, the step that failed).
    public var handoverNote: String?

    public init(configurationID: String) {
        self.configurationID = configurationID
    }

    public var totalTokens: Int { usage.values.reduce(0) { $0 + $1.inputTokens + $1.outputTokens } }

    /// `usage_metadata` for the run.
    public func usageMetadata(cachedSteps: Int = 0) -> JSONObject {
        Self.usageMetadata(models: usage, agenticSteps: stepsExecuted, cachedSteps: cachedSteps)
    }

    /// `usage_metadata`: `{models: {id: {name, model, provider, calls, input_tokens,
    /// output_tokens}}, total_agentic_steps, total_cached_steps}`.
    public static func usageMetadata(models usage: [String: ModelUsage], agenticSteps: Int, cachedSteps: Int)
        -> JSONObject
    {
        var models: JSONObject = [:]
        for (id, usage) in usage {
            models[id] = [
                "name": .string(usage.name), "model": .string(usage.model), "provider": .string(usage.provider),
                "calls": .int(Int64(usage.calls)), "input_tokens": .int(Int64(usage.inputTokens)),
                "output_tokens": .int(Int64(usage.outputTokens)),
            ]
        }
        return [
            "models": .object(models), "total_agentic_steps": .int(Int64(agenticSteps)),
            "total_cached_steps": .int(Int64(cachedSteps)),
        ]
    }
}

/// Calls and tokens of one model configuration in one run.
public struct ModelUsage: Codable, Sendable, Hashable {
    public var name: String
    public var model: String
    public var provider: String
    public var calls = 0
    public var inputTokens = 0
    public var outputTokens = 0

    public init(name: String, model: String, provider: String) {
        self.name = name
        self.model = model
        self.provider = provider
    }

    /// Adds one call of `endpoint` that answered `turn` to `usage` (by configuration id).
    public static func count(_ turn: ModelTurn, of endpoint: ModelEndpoint, in usage: inout [String: ModelUsage]) {
        var entry =
            usage[endpoint.configurationID]
            ?? ModelUsage(name: endpoint.name, model: endpoint.model, provider: endpoint.provider.rawValue)
        entry.calls += 1
        entry.inputTokens += turn.usage.inputTokens
        entry.outputTokens += turn.usage.outputTokens
        usage[endpoint.configurationID] = entry
    }
}

/// A piece of a stored message: text, a run image by id, or the workflow's prompt (rebuilt).
public struct StoredPart: Codable, Sendable, Hashable {
    public var text: String?
    public var imageID: String?
    public var prompt: Bool?

    public static func text(_ text: String) -> StoredPart { StoredPart(text: text) }
    public static func image(_ id: String) -> StoredPart { StoredPart(imageID: id) }
    public static let prompt = StoredPart(prompt: true)
}

public struct StoredToolCall: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var input: JSONObject
}

public struct StoredToolResult: Codable, Sendable, Hashable {
    public var toolCallID: String
    public var parts: [StoredPart]
    public var isError: Bool
}

public struct StoredMessage: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable {
        case user, assistant
        case toolResults = "tool_results"
    }
    public var role: Role
    public var parts: [StoredPart] = []
    public var toolCalls: [StoredToolCall] = []
    public var results: [StoredToolResult] = []
}

/// A tool call waiting for the machine: the steps it became, or the answer already known
/// (an invalid call, a screenshot, the cursor position).
public struct PendingCall: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var input: JSONObject
    public var stepIndices: [Int] = []
    public var answer: String?
    public var isError = false
}
