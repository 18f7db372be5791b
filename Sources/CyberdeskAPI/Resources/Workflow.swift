import FoundationEssentials

/// A workflow: the task description, its input contract and how its runs behave.
public struct Workflow: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var name: String?
    public var mainPrompt: String
    public var inputSchema: String?
    public var outputSchema: String?
    public var includesFileExports: Bool
    public var isWebhooksEnabled: Bool
    public var terminalCommandAllowlist: [String]?
    public var includesInputVariables: Bool
    /// The model configurations prompt-driven runs of this workflow use (PLANNER.md); each id
    /// is a model configuration of the workflow's organization, checked on create and update.
    public var modelMetadata: WorkflowModelMetadata?
    /// Earlier versions, oldest first; each is the workflow's editable fields plus `version`
    /// and `updated_at` as they were before a `PATCH` changed them.
    public var oldVersions: [JSONObject]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, organizationID: String, name: String?, mainPrompt: String, inputSchema: String?,
        outputSchema: String?, includesFileExports: Bool, isWebhooksEnabled: Bool,
        terminalCommandAllowlist: [String]?, includesInputVariables: Bool, modelMetadata: WorkflowModelMetadata? = nil,
        oldVersions: [JSONObject], createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.mainPrompt = mainPrompt
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.includesFileExports = includesFileExports
        self.isWebhooksEnabled = isWebhooksEnabled
        self.terminalCommandAllowlist = terminalCommandAllowlist
        self.includesInputVariables = includesInputVariables
        self.modelMetadata = modelMetadata
        self.oldVersions = oldVersions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case organizationID = "organization_id"
        case mainPrompt = "main_prompt"
        case inputSchema = "input_schema"
        case outputSchema = "output_schema"
        case includesFileExports = "includes_file_exports"
        case isWebhooksEnabled = "is_webhooks_enabled"
        case terminalCommandAllowlist = "terminal_command_allowlist"
        case includesInputVariables = "includes_input_variables"
        case modelMetadata = "model_metadata"
        case oldVersions = "old_versions"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `POST /v1/workflows`.
public struct WorkflowCreate: Codable, Sendable {
    public var mainPrompt: String
    public var name: String?
    public var inputSchema: String?
    public var outputSchema: String?
    public var includesFileExports: Bool?
    public var isWebhooksEnabled: Bool?
    public var terminalCommandAllowlist: [String]?
    public var modelMetadata: WorkflowModelMetadata?

    public init(
        mainPrompt: String, name: String? = nil, inputSchema: String? = nil, outputSchema: String? = nil,
        includesFileExports: Bool? = nil, isWebhooksEnabled: Bool? = nil, terminalCommandAllowlist: [String]? = nil,
        modelMetadata: WorkflowModelMetadata? = nil
    ) {
        self.mainPrompt = mainPrompt
        self.name = name
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.includesFileExports = includesFileExports
        self.isWebhooksEnabled = isWebhooksEnabled
        self.terminalCommandAllowlist = terminalCommandAllowlist
        self.modelMetadata = modelMetadata
    }

    enum CodingKeys: String, CodingKey {
        case name
        case modelMetadata = "model_metadata"
        case mainPrompt = "main_prompt"
        case inputSchema = "input_schema"
        case outputSchema = "output_schema"
        case includesFileExports = "includes_file_exports"
        case isWebhooksEnabled = "is_webhooks_enabled"
        case terminalCommandAllowlist = "terminal_command_allowlist"
    }
}

/// Which model configurations a prompt-driven run uses (the SDK's `WorkflowModelMetadata`):
/// the main agent, an optional judge of "same screen?" before falling back from a cached
/// step, and up to two fallbacks. Every field is a model configuration id or nil.
public struct WorkflowModelMetadata: Codable, Sendable, Hashable {
    public var mainAgentModelID: String?
    public var cacheDetectionModelID: String?
    public var fallbackModel1ID: String?
    public var fallbackModel2ID: String?

    public init(
        mainAgentModelID: String? = nil, cacheDetectionModelID: String? = nil, fallbackModel1ID: String? = nil,
        fallbackModel2ID: String? = nil
    ) {
        self.mainAgentModelID = mainAgentModelID
        self.cacheDetectionModelID = cacheDetectionModelID
        self.fallbackModel1ID = fallbackModel1ID
        self.fallbackModel2ID = fallbackModel2ID
    }

    /// The fields by wire name, in the SDK's order.
    public var fields: [(name: String, id: String?)] {
        [
            ("main_agent_model_id", mainAgentModelID), ("cache_detection_model_id", cacheDetectionModelID),
            ("fallback_model_1_id", fallbackModel1ID), ("fallback_model_2_id", fallbackModel2ID),
        ]
    }

    /// `other`'s non-nil fields replace these.
    public func overlaid(with other: WorkflowModelMetadata?) -> WorkflowModelMetadata {
        guard let other else { return self }
        return WorkflowModelMetadata(
            mainAgentModelID: other.mainAgentModelID ?? mainAgentModelID,
            cacheDetectionModelID: other.cacheDetectionModelID ?? cacheDetectionModelID,
            fallbackModel1ID: other.fallbackModel1ID ?? fallbackModel1ID,
            fallbackModel2ID: other.fallbackModel2ID ?? fallbackModel2ID)
    }

    public var isEmpty: Bool { fields.allSatisfy { $0.id == nil } }

    enum CodingKeys: String, CodingKey {
        case mainAgentModelID = "main_agent_model_id"
        case cacheDetectionModelID = "cache_detection_model_id"
        case fallbackModel1ID = "fallback_model_1_id"
        case fallbackModel2ID = "fallback_model_2_id"
    }
}
