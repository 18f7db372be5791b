import CyberdeskAPI
import FoundationEssentials

/// `/v1/connections`: one record per agent connection.
struct ConnectionsController {
    func register(_ api: APIRouter) {
        api.add(.post, "/v1/connections") { call in
            let create = try call.decode(ConnectionCreate.self)
            let machineID = try requireUUID(create.machineID, field: "machine_id")
            let time = Timestamp.truncated(call.app.now())
            let connection = Connection(
                id: UUIDText.new(), organizationID: call.organizationID, websocketID: create.websocketID,
                machineID: machineID, connectedAt: time, disconnectedAt: nil, lastPing: time, status: .connected,
                ipAddress: create.ipAddress, userAgent: create.userAgent)
            try await call.app.store.transaction { tx in
                guard
                    try await tx.fetch(
                        Machine.self, id: machineID, organizationID: call.organizationID, forUpdate: false) != nil
                else { throw ControlPlaneError.notFound("machine \(machineID) not found") }
                try await tx.insert(connection)
            }
            return try .json(connection, status: .created)
        }

        api.add(.get, "/v1/connections") { call in
            var filters: [RecordFilter] = []
            if let machineID = try call.queryUUID("machine_id") {
                filters.append(.equals("machine_id", .text(machineID)))
            }
            if let status = try call.queryEnum("status", ConnectionStatus.self) {
                filters.append(.equals("status", .text(status.rawValue)))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let page = try await call.app.store.transaction {
                try await $0.list(
                    Connection.self, organizationID: call.organizationID, filters: chosen, order: .newestFirst,
                    skip: skip, limit: limit)
            }
            return try .json(Page(items: page.items, total: page.total, skip: skip, limit: limit))
        }

        api.add(.get, "/v1/connections/:id") { call in
            try .json(try await Self.fetch(call))
        }

        api.add(.patch, "/v1/connections/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let connection = try await call.app.store.transaction { tx in
                guard
                    var connection = try await tx.fetch(
                        Connection.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("connection \(id) not found") }
                if case .some(let value?) = try patch.string("status") {
                    guard let status = ConnectionStatus(rawValue: value) else {
                        throw RequestValidationError(
                            loc: ["body", "status"], msg: "Input should be 'connected', 'disconnected' or 'error'",
                            type: "enum")
                    }
                    connection.status = status
                }
                if case .some(let value?) = try patch.date("last_ping") {
                    connection.lastPing = Timestamp.truncated(value)
                }
                if case .some(let value) = try patch.date("disconnected_at") {
                    connection.disconnectedAt = value.map(Timestamp.truncated)
                }
                try await tx.save(connection)
                return connection
            }
            return try .json(connection)
        }

        api.add(.delete, "/v1/connections/:id") { call in
            let id = try call.id()
            guard
                try await call.app.store.transaction({
                    try await $0.delete(Connection.self, id: id, organizationID: call.organizationID)
                })
            else { throw ControlPlaneError.notFound("connection \(id) not found") }
            return .empty
        }
    }

    static func fetch(_ call: APICall) async throws -> Connection {
        try await call.record(Connection.self, named: "connection")
    }
}
