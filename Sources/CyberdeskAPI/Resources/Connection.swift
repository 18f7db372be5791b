import FoundationEssentials

/// One agent connection (`AGENT-PROTOCOL.md`); `websocket_id` carries the agent's connection id.
public struct Connection: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var websocketID: String
    public var machineID: String
    public var connectedAt: Date
    @AlwaysPresent public var disconnectedAt: Date?
    public var lastPing: Date
    public var status: ConnectionStatus
    public var ipAddress: String?
    public var userAgent: String?

    public init(
        id: String, organizationID: String, websocketID: String, machineID: String, connectedAt: Date,
        disconnectedAt: Date?, lastPing: Date, status: ConnectionStatus, ipAddress: String?, userAgent: String?
    ) {
        self.id = id
        self.organizationID = organizationID
        self.websocketID = websocketID
        self.machineID = machineID
        self.connectedAt = connectedAt
        self.disconnectedAt = disconnectedAt
        self.lastPing = lastPing
        self.status = status
        self.ipAddress = ipAddress
        self.userAgent = userAgent
    }

    enum CodingKeys: String, CodingKey {
        case id, status
        case organizationID = "organization_id"
        case websocketID = "websocket_id"
        case machineID = "machine_id"
        case connectedAt = "connected_at"
        case disconnectedAt = "disconnected_at"
        case lastPing = "last_ping"
        case ipAddress = "ip_address"
        case userAgent = "user_agent"
    }
}

/// `POST /v1/connections`.
public struct ConnectionCreate: Codable, Sendable {
    public var websocketID: String
    public var machineID: String
    public var ipAddress: String?
    public var userAgent: String?

    public init(websocketID: String, machineID: String, ipAddress: String? = nil, userAgent: String? = nil) {
        self.websocketID = websocketID
        self.machineID = machineID
        self.ipAddress = ipAddress
        self.userAgent = userAgent
    }

    enum CodingKeys: String, CodingKey {
        case websocketID = "websocket_id"
        case machineID = "machine_id"
        case ipAddress = "ip_address"
        case userAgent = "user_agent"
    }
}
