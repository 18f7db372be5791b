import FoundationEssentials

/// A desktop that runs work. Machines normally appear through `cyberdesk-agent join`.
public struct Machine: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var fingerprint: String
    public var unkeyKeyID: String
    public var name: String?
    public var version: String?
    public var hostname: String?
    public var osInfo: String?
    public var status: MachineStatus
    public var isAvailable: Bool
    public var alertsEnabled: Bool
    public var machineParameters: JSONObject?
    /// Aliases only: `{name: alias}`; the values live in the vault.
    public var machineSensitiveParameters: JSONObject?
    public var reservedSessionID: String?
    public var lastSeen: Date
    public var createdAt: Date
    /// Filled in responses that include pools; never stored.
    public var pools: [Pool]?

    public init(
        id: String, organizationID: String, fingerprint: String, unkeyKeyID: String, name: String?,
        version: String?, hostname: String?, osInfo: String?, status: MachineStatus, isAvailable: Bool,
        alertsEnabled: Bool, machineParameters: JSONObject?, machineSensitiveParameters: JSONObject?,
        reservedSessionID: String?, lastSeen: Date, createdAt: Date, pools: [Pool]? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.fingerprint = fingerprint
        self.unkeyKeyID = unkeyKeyID
        self.name = name
        self.version = version
        self.hostname = hostname
        self.osInfo = osInfo
        self.status = status
        self.isAvailable = isAvailable
        self.alertsEnabled = alertsEnabled
        self.machineParameters = machineParameters
        self.machineSensitiveParameters = machineSensitiveParameters
        self.reservedSessionID = reservedSessionID
        self.lastSeen = lastSeen
        self.createdAt = createdAt
        self.pools = pools
    }

    enum CodingKeys: String, CodingKey {
        case id, fingerprint, name, version, hostname, status, pools
        case organizationID = "organization_id"
        case unkeyKeyID = "unkey_key_id"
        case osInfo = "os_info"
        case isAvailable = "is_available"
        case alertsEnabled = "alerts_enabled"
        case machineParameters = "machine_parameters"
        case machineSensitiveParameters = "machine_sensitive_parameters"
        case reservedSessionID = "reserved_session_id"
        case lastSeen = "last_seen"
        case createdAt = "created_at"
    }
}

/// `POST /v1/machines`.
public struct MachineCreate: Codable, Sendable {
    public var fingerprint: String
    public var unkeyKeyID: String
    public var name: String?
    public var version: String?
    public var hostname: String?
    public var osInfo: String?
    public var machineParameters: JSONObject?
    public var machineSensitiveParameters: JSONObject?

    public init(
        fingerprint: String, unkeyKeyID: String, name: String? = nil, version: String? = nil,
        hostname: String? = nil, osInfo: String? = nil, machineParameters: JSONObject? = nil,
        machineSensitiveParameters: JSONObject? = nil
    ) {
        self.fingerprint = fingerprint
        self.unkeyKeyID = unkeyKeyID
        self.name = name
        self.version = version
        self.hostname = hostname
        self.osInfo = osInfo
        self.machineParameters = machineParameters
        self.machineSensitiveParameters = machineSensitiveParameters
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, name, version, hostname
        case unkeyKeyID = "unkey_key_id"
        case osInfo = "os_info"
        case machineParameters = "machine_parameters"
        case machineSensitiveParameters = "machine_sensitive_parameters"
    }
}
