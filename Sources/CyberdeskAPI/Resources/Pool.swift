import FoundationEssentials

/// A named group of machines; runs may require membership of several pools at once.
public struct Pool: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var name: String
    public var description: String?
    public var poolParameters: JSONObject?
    /// Aliases only: `{name: alias}`; the values live in the vault.
    public var poolSensitiveParameters: JSONObject?
    public var machineCount: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// Filled in responses that include machines; never stored.
    public var machines: [Machine]?

    public init(
        id: String, organizationID: String, name: String, description: String?, poolParameters: JSONObject?,
        poolSensitiveParameters: JSONObject?, machineCount: Int, createdAt: Date, updatedAt: Date,
        machines: [Machine]? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.description = description
        self.poolParameters = poolParameters
        self.poolSensitiveParameters = poolSensitiveParameters
        self.machineCount = machineCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.machines = machines
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, machines
        case organizationID = "organization_id"
        case poolParameters = "pool_parameters"
        case poolSensitiveParameters = "pool_sensitive_parameters"
        case machineCount = "machine_count"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// `POST /v1/pools`.
public struct PoolCreate: Codable, Sendable {
    public var name: String
    public var description: String?
    public var poolParameters: JSONObject?
    public var poolSensitiveParameters: JSONObject?

    public init(
        name: String, description: String? = nil, poolParameters: JSONObject? = nil,
        poolSensitiveParameters: JSONObject? = nil
    ) {
        self.name = name
        self.description = description
        self.poolParameters = poolParameters
        self.poolSensitiveParameters = poolSensitiveParameters
    }

    enum CodingKeys: String, CodingKey {
        case name, description
        case poolParameters = "pool_parameters"
        case poolSensitiveParameters = "pool_sensitive_parameters"
    }
}
