import FoundationEssentials

/// A model a prompt-driven run can use (the SDK's `ModelConfigurationResponse`), as stored
/// and as answered. The API key is never part of it: it is sealed in the vault, and only
/// its alias is kept here.
public struct ModelConfigurationRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var name: String
    /// A LangChain provider name this server speaks (`ModelProvider`: anthropic, openai).
    public var provider: String
    public var model: String
    public var description: String?
    public var temperature: Double?
    public var maxTokens: Int?
    public var timeoutSeconds: Double?
    public var maxRetries: Int?
    /// Provider-specific: `base_url`, `tool_version`, `coordinate_space`, image size limits.
    public var additionalParams: JSONObject?
    public var agentHarnessVersionString: String?
    public var isComputerUseModel: Bool
    public var isArchived: Bool
    /// The organization's default model (at most one per organization, a constraint).
    public var isSystemDefault: Bool
    /// The vault alias of the configuration's own API key; nil when it has none (then the
    /// organization's provider credential is used, if any).
    public var apiKeyAlias: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, organizationID: String, name: String, provider: String, model: String, description: String? = nil,
        temperature: Double? = nil, maxTokens: Int? = nil, timeoutSeconds: Double? = nil, maxRetries: Int? = nil,
        additionalParams: JSONObject? = nil, agentHarnessVersionString: String? = nil,
        isComputerUseModel: Bool = false, isArchived: Bool = false, isSystemDefault: Bool = false,
        apiKeyAlias: String? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.provider = provider
        self.model = model
        self.description = description
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.timeoutSeconds = timeoutSeconds
        self.maxRetries = maxRetries
        self.additionalParams = additionalParams
        self.agentHarnessVersionString = agentHarnessVersionString
        self.isComputerUseModel = isComputerUseModel
        self.isArchived = isArchived
        self.isSystemDefault = isSystemDefault
        self.apiKeyAlias = apiKeyAlias
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, provider, model, description, temperature
        case organizationID = "organization_id"
        case maxTokens = "max_tokens"
        case timeoutSeconds = "timeout_seconds"
        case maxRetries = "max_retries"
        case additionalParams = "additional_params"
        case agentHarnessVersionString = "agent_harness_version_string"
        case isComputerUseModel = "is_computer_use_model"
        case isArchived = "is_archived"
        case isSystemDefault = "is_system_default"
        case apiKeyAlias = "api_key_alias"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `POST /v1/model-configurations` (the SDK's `ModelConfigurationCreate`, plus
/// `is_system_default`, which the SDK sends through `additional_properties`).
public struct ModelConfigurationCreate: Codable, Sendable {
    public var name: String
    public var provider: String
    public var model: String
    public var description: String?
    public var temperature: Double?
    public var maxTokens: Int?
    public var timeoutSeconds: Double?
    public var maxRetries: Int?
    public var additionalParams: JSONObject?
    public var agentHarnessVersionString: String?
    public var isComputerUseModel: Bool?
    public var isArchived: Bool?
    public var isSystemDefault: Bool?
    /// Sealed in the vault on arrival; never stored or answered in plain text.
    public var apiKey: String?

    enum CodingKeys: String, CodingKey {
        case name, provider, model, description, temperature
        case maxTokens = "max_tokens"
        case timeoutSeconds = "timeout_seconds"
        case maxRetries = "max_retries"
        case additionalParams = "additional_params"
        case agentHarnessVersionString = "agent_harness_version_string"
        case isComputerUseModel = "is_computer_use_model"
        case isArchived = "is_archived"
        case isSystemDefault = "is_system_default"
        case apiKey = "api_key"
    }
}
