import FoundationEssentials

/// One execution of a workflow on a machine.
public struct Run: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var workflowID: String
    /// The machine the run was pinned to, or the one it was dispatched to. Always written,
    /// as `null` when neither (the SDK requires the key).
    @AlwaysPresent public var machineID: String?
    public var status: RunStatus
    public var error: [String]?
    public var outputData: JSONObject?
    public var inputValues: JSONObject?
    public var inputAttachmentIDs: [String]
    public var outputAttachmentIDs: [String]
    public var runMessageHistory: [JSONValue]?
    /// `{name: alias}` for every sensitive input; never a value.
    public var sensitiveInputAliases: JSONObject?
    public var sessionID: String?
    public var sessionAlias: String?
    public var releaseSessionAfter: Bool?
    public var poolIDs: [String]
    public var isPriority: Bool
    public var mainPrompt: String?
    /// `RunCreate.main_agent_model_id` as given: the per-run override of the main agent model.
    public var mainAgentModelID: String?
    /// The models this run uses, fixed at creation: the workflow's `model_metadata`, overlaid
    /// with `RunCreate.model_metadata`, then with `main_agent_model_id`. The planner loop
    /// reads `modelMetadata?.mainAgentModelID`, which already includes the override.
    @AlwaysPresent public var modelMetadata: WorkflowModelMetadata?
    /// Per model: calls, input/output tokens; `total_agentic_steps`, `total_cached_steps`.
    /// Null until a model is used.
    @AlwaysPresent public var usageMetadata: JSONObject?
    public var createdAt: Date
    public var startedAt: Date?
    public var endedAt: Date?

    public init(
        id: String, organizationID: String, workflowID: String, machineID: String?, status: RunStatus,
        error: [String]? = nil, outputData: JSONObject? = nil, inputValues: JSONObject?,
        inputAttachmentIDs: [String] = [], outputAttachmentIDs: [String] = [], runMessageHistory: [JSONValue]? = nil,
        sensitiveInputAliases: JSONObject?, sessionID: String?, sessionAlias: String?, releaseSessionAfter: Bool?,
        poolIDs: [String], isPriority: Bool, mainPrompt: String?, mainAgentModelID: String? = nil,
        modelMetadata: WorkflowModelMetadata? = nil, usageMetadata: JSONObject? = nil, createdAt: Date,
        startedAt: Date? = nil, endedAt: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.workflowID = workflowID
        self.machineID = machineID
        self.status = status
        self.error = error
        self.outputData = outputData
        self.inputValues = inputValues
        self.inputAttachmentIDs = inputAttachmentIDs
        self.outputAttachmentIDs = outputAttachmentIDs
        self.runMessageHistory = runMessageHistory
        self.sensitiveInputAliases = sensitiveInputAliases
        self.sessionID = sessionID
        self.sessionAlias = sessionAlias
        self.releaseSessionAfter = releaseSessionAfter
        self.poolIDs = poolIDs
        self.isPriority = isPriority
        self.mainPrompt = mainPrompt
        self.mainAgentModelID = mainAgentModelID
        self.modelMetadata = modelMetadata
        self.usageMetadata = usageMetadata
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, status, error
        case organizationID = "organization_id"
        case workflowID = "workflow_id"
        case machineID = "machine_id"
        case outputData = "output_data"
        case inputValues = "input_values"
        case inputAttachmentIDs = "input_attachment_ids"
        case outputAttachmentIDs = "output_attachment_ids"
        case runMessageHistory = "run_message_history"
        case sensitiveInputAliases = "sensitive_input_aliases"
        case sessionID = "session_id"
        case sessionAlias = "session_alias"
        case releaseSessionAfter = "release_session_after"
        case poolIDs = "pool_ids"
        case isPriority = "is_priority"
        case mainPrompt = "main_prompt"
        case mainAgentModelID = "main_agent_model_id"
        case modelMetadata = "model_metadata"
        case usageMetadata = "usage_metadata"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
    }
}

/// `POST /v1/runs`.
public struct RunCreate: Codable, Sendable {
    public var workflowID: String
    public var machineID: String?
    public var poolIDs: [String]?
    public var inputValues: JSONObject?
    public var sensitiveInputValues: JSONObject?
    public var fileInputs: [FileInput]?
    public var sessionID: String?
    public var startSession: Bool?
    public var sessionAlias: String?
    public var releaseSessionAfter: Bool?
    public var isPriority: Bool?
    public var mainPrompt: String?
    public var mainAgentModelID: String?
    public var modelMetadata: WorkflowModelMetadata?

    public init(
        workflowID: String, machineID: String? = nil, poolIDs: [String]? = nil, inputValues: JSONObject? = nil,
        sensitiveInputValues: JSONObject? = nil, fileInputs: [FileInput]? = nil, sessionID: String? = nil,
        startSession: Bool? = nil, sessionAlias: String? = nil, releaseSessionAfter: Bool? = nil,
        isPriority: Bool? = nil, mainPrompt: String? = nil, mainAgentModelID: String? = nil,
        modelMetadata: WorkflowModelMetadata? = nil
    ) {
        self.workflowID = workflowID
        self.machineID = machineID
        self.poolIDs = poolIDs
        self.inputValues = inputValues
        self.sensitiveInputValues = sensitiveInputValues
        self.fileInputs = fileInputs
        self.sessionID = sessionID
        self.startSession = startSession
        self.sessionAlias = sessionAlias
        self.releaseSessionAfter = releaseSessionAfter
        self.isPriority = isPriority
        self.mainPrompt = mainPrompt
        self.mainAgentModelID = mainAgentModelID
        self.modelMetadata = modelMetadata
    }

    enum CodingKeys: String, CodingKey {
        case mainAgentModelID = "main_agent_model_id"
        case modelMetadata = "model_metadata"
        case workflowID = "workflow_id"
        case machineID = "machine_id"
        case poolIDs = "pool_ids"
        case inputValues = "input_values"
        case sensitiveInputValues = "sensitive_input_values"
        case fileInputs = "file_inputs"
        case sessionID = "session_id"
        case startSession = "start_session"
        case sessionAlias = "session_alias"
        case releaseSessionAfter = "release_session_after"
        case isPriority = "is_priority"
        case mainPrompt = "main_prompt"
    }
}

/// `POST /v1/runs/bulk`: `count` copies of one run.
public struct RunBulkCreate: Codable, Sendable {
    public var workflowID: String
    public var count: Int
    public var machineID: String?
    public var poolIDs: [String]?
    public var inputValues: JSONObject?
    public var sensitiveInputValues: JSONObject?
    public var fileInputs: [FileInput]?
    public var sessionID: String?
    public var startSession: Bool?
    public var isPriority: Bool?

    enum CodingKeys: String, CodingKey {
        case count
        case workflowID = "workflow_id"
        case machineID = "machine_id"
        case poolIDs = "pool_ids"
        case inputValues = "input_values"
        case sensitiveInputValues = "sensitive_input_values"
        case fileInputs = "file_inputs"
        case sessionID = "session_id"
        case startSession = "start_session"
        case isPriority = "is_priority"
    }
}

public struct RunBulkCreateResponse: Codable, Sendable {
    public var createdRuns: [Run]
    public var failedCount: Int
    public var errors: [String]

    public init(createdRuns: [Run], failedCount: Int, errors: [String]) {
        self.createdRuns = createdRuns
        self.failedCount = failedCount
        self.errors = errors
    }

    enum CodingKeys: String, CodingKey {
        case errors
        case createdRuns = "created_runs"
        case failedCount = "failed_count"
    }
}

/// `POST /v1/runs/chain`: several workflows back to back on one machine, as one session.
public struct WorkflowChainCreate: Codable, Sendable {
    public struct Step: Codable, Sendable {
        public var workflowID: String
        public var sessionAlias: String?
        public var inputs: JSONObject?
        public var sensitiveInputs: JSONObject?

        enum CodingKeys: String, CodingKey {
            case inputs
            case workflowID = "workflow_id"
            case sessionAlias = "session_alias"
            case sensitiveInputs = "sensitive_inputs"
        }
    }

    public var steps: [Step]
    public var sharedInputs: JSONObject?
    public var sharedSensitiveInputs: JSONObject?
    public var sharedFileInputs: [FileInput]?
    public var keepSessionAfterCompletion: Bool?
    public var machineID: String?
    public var poolIDs: [String]?
    public var sessionID: String?
    public var isPriority: Bool?

    enum CodingKeys: String, CodingKey {
        case steps
        case sharedInputs = "shared_inputs"
        case sharedSensitiveInputs = "shared_sensitive_inputs"
        case sharedFileInputs = "shared_file_inputs"
        case keepSessionAfterCompletion = "keep_session_after_completion"
        case machineID = "machine_id"
        case poolIDs = "pool_ids"
        case sessionID = "session_id"
        case isPriority = "is_priority"
    }
}

public struct WorkflowChainResponse: Codable, Sendable {
    public var sessionID: String
    public var runIDs: [String]

    public init(sessionID: String, runIDs: [String]) {
        self.sessionID = sessionID
        self.runIDs = runIDs
    }

    enum CodingKeys: String, CodingKey {
        case sessionID = "session_id"
        case runIDs = "run_ids"
    }
}

/// `POST /v1/runs/{id}/retry`: a new attempt of a terminal run, with optional overrides.
public struct RunRetry: Codable, Sendable {
    public var inputValues: JSONObject?
    public var sensitiveInputValues: JSONObject?
    public var fileInputs: [FileInput]?
    public var machineID: String?
    public var poolIDs: [String]?
    public var reuseSession: Bool?
    public var sessionID: String?
    public var startSession: Bool?
    public var sessionAlias: String?
    public var releaseSessionAfter: Bool?
    public var isPriority: Bool?

    public init(
        inputValues: JSONObject? = nil, sensitiveInputValues: JSONObject? = nil, fileInputs: [FileInput]? = nil,
        machineID: String? = nil, poolIDs: [String]? = nil, reuseSession: Bool? = nil, sessionID: String? = nil,
        startSession: Bool? = nil, sessionAlias: String? = nil, releaseSessionAfter: Bool? = nil,
        isPriority: Bool? = nil
    ) {
        self.inputValues = inputValues
        self.sensitiveInputValues = sensitiveInputValues
        self.fileInputs = fileInputs
        self.machineID = machineID
        self.poolIDs = poolIDs
        self.reuseSession = reuseSession
        self.sessionID = sessionID
        self.startSession = startSession
        self.sessionAlias = sessionAlias
        self.releaseSessionAfter = releaseSessionAfter
        self.isPriority = isPriority
    }

    enum CodingKeys: String, CodingKey {
        case inputValues = "input_values"
        case sensitiveInputValues = "sensitive_input_values"
        case fileInputs = "file_inputs"
        case machineID = "machine_id"
        case poolIDs = "pool_ids"
        case reuseSession = "reuse_session"
        case sessionID = "session_id"
        case startSession = "start_session"
        case sessionAlias = "session_alias"
        case releaseSessionAfter = "release_session_after"
        case isPriority = "is_priority"
    }
}
