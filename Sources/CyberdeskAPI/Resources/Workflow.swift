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
    /// Earlier versions, oldest first; each is the workflow's editable fields plus `version`
    /// and `updated_at` as they were before a `PATCH` changed them.
    public var oldVersions: [JSONObject]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, organizationID: String, name: String?, mainPrompt: String, inputSchema: String?,
        outputSchema: String?, includesFileExports: Bool, isWebhooksEnabled: Bool,
        terminalCommandAllowlist: [String]?, includesInputVariables: Bool, oldVersions: [JSONObject],
        createdAt: Date, updatedAt: Date
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

    public init(
        mainPrompt: String, name: String? = nil, inputSchema: String? = nil, outputSchema: String? = nil,
        includesFileExports: Bool? = nil, isWebhooksEnabled: Bool? = nil, terminalCommandAllowlist: [String]? = nil
    ) {
        self.mainPrompt = mainPrompt
        self.name = name
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.includesFileExports = includesFileExports
        self.isWebhooksEnabled = isWebhooksEnabled
        self.terminalCommandAllowlist = terminalCommandAllowlist
    }

    enum CodingKeys: String, CodingKey {
        case name
        case mainPrompt = "main_prompt"
        case inputSchema = "input_schema"
        case outputSchema = "output_schema"
        case includesFileExports = "includes_file_exports"
        case isWebhooksEnabled = "is_webhooks_enabled"
        case terminalCommandAllowlist = "terminal_command_allowlist"
    }
}
