import CyberdeskAPI
import FoundationEssentials

/// `/v1/machines`: the desktops, their pools and parameters.
struct MachinesController {
    func register(_ api: APIRouter) {
        api.add(.post, "/v1/machines") { call in
            let create = try call.decode(MachineCreate.self)
            guard !create.fingerprint.isEmpty else {
                throw RequestValidationError(
                    loc: ["body", "fingerprint"], msg: "String should have at least 1 character",
                    type: "string_too_short")
            }
            try call.app.limits.check(create.name, field: "name", max: call.app.limits.nameCharacters)
            let time = Timestamp.truncated(call.app.now())
            let id = UUIDText.new()
            let sealed = try call.app.vault.sealAll(
                create.machineSensitiveParameters ?? [:], organizationID: call.organizationID, ownerKind: .machine,
                ownerID: id, now: time)
            let machine = Machine(
                id: id, organizationID: call.organizationID, fingerprint: create.fingerprint,
                unkeyKeyID: create.unkeyKeyID, name: create.name, version: create.version, hostname: create.hostname,
                osInfo: create.osInfo, status: .disconnected, isAvailable: true, alertsEnabled: false,
                machineParameters: create.machineParameters,
                machineSensitiveParameters: create.machineSensitiveParameters == nil ? nil : sealed.aliases,
                reservedSessionID: nil, lastSeen: time, createdAt: time)
            try await call.app.store.transaction { tx in
                do {
                    try await tx.insert(machine)
                } catch StoreError.conflict {
                    throw ControlPlaneError.conflict(
                        "a machine with fingerprint '\(create.fingerprint)' already exists in this organization")
                }
                for secret in sealed.secrets { try await tx.insertSecret(secret) }
            }
            return try .json(machine, status: .created)
        }

        api.add(.get, "/v1/machines") { call in
            var filters = try call.dateFilters()
            if let status = try call.queryEnum("status", MachineStatus.self) {
                filters.append(.equals("status", .text(status.rawValue)))
            }
            if let name = call.query("name"), !name.isEmpty { filters.append(.equals("name", .text(name))) }
            if let search = call.query("search"), !search.isEmpty {
                filters.append(.contains(["search_text"], search))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let withPools = call.includes.contains("pools")
            // `fields=` (the dashboard's machine pickers): the stored documents trimmed to the
            // fields asked for and `id`, without decoding and encoding every machine.
            let fields = Set(call.queryAll("fields").flatMap { $0.split(separator: ",").map(String.init) })
            if let bad = fields.first(where: { !Self.isFieldName($0) }) {
                throw RequestValidationError(
                    loc: ["query", "fields"], msg: "'\(bad)' is not a field name (letters, digits and _)",
                    type: "value_error")
            }
            if !fields.isEmpty, !withPools {
                let wanted = fields.union(["id"]).sorted()
                let page = try await call.app.store.transaction {
                    try await $0.listFields(
                        Machine.self, wanted, organizationID: call.organizationID, filters: chosen,
                        order: .newestFirst, skip: skip, limit: limit)
                }
                let items = page.items.map { JSONValue.object($0) }
                let body: JSONValue = [
                    "items": .array(items), "total": .int(Int64(page.total)), "skip": .int(Int64(skip)),
                    "limit": .int(Int64(limit)),
                ]
                return .json(.ok, Array(body.compactJSON.utf8))
            }
            let (page, pools) = try await call.app.store.transaction { tx in
                var page = try await tx.list(
                    Machine.self, organizationID: call.organizationID, filters: chosen, order: .newestFirst, skip: skip,
                    limit: limit)
                var all: [Pool] = []
                if withPools {
                    for index in page.items.indices {
                        let pools = try await Self.pools(of: page.items[index].id, in: tx, call: call)
                        page.items[index].pools = pools
                        all += pools
                    }
                }
                return (page, all)
            }
            return try .json(
                Page(
                    items: page.items, total: page.total, skip: skip, limit: limit,
                    included: withPools ? try IncludedResources.pools(pools) : nil))
        }

        api.add(.get, "/v1/machines/:id") { call in
            let id = try call.id()
            let withPools = call.includes.contains("pools")
            let machine = try await call.app.store.transaction { tx in
                guard
                    var machine = try await tx.fetch(
                        Machine.self, id: id, organizationID: call.organizationID, forUpdate: false)
                else { throw ControlPlaneError.notFound("machine \(id) not found") }
                if withPools { machine.pools = try await Self.pools(of: id, in: tx, call: call) }
                return machine
            }
            guard withPools else { return try .json(machine) }
            var object = try IncludedResources.object(machine, type: "machine")
            object["type"] = nil
            object["included"] = .array(try IncludedResources.pools(machine.pools ?? []).map { .object($0) })
            return try .json(object)
        }

        api.add(.patch, "/v1/machines/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let limits = call.app.limits
            try limits.check(try patch.string("name") ?? nil, field: "name", max: limits.nameCharacters)
            let time = Timestamp.truncated(call.app.now())
            let machine = try await call.app.store.transaction { tx in
                guard
                    var machine = try await tx.fetch(
                        Machine.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("machine \(id) not found") }
                if case .some(let value) = try patch.string("name") { machine.name = value }
                if case .some(let value) = try patch.string("version") { machine.version = value }
                if case .some(let value) = try patch.string("hostname") { machine.hostname = value }
                if case .some(let value) = try patch.string("os_info") { machine.osInfo = value }
                if case .some(let value?) = try patch.string("status") {
                    guard let status = MachineStatus(rawValue: value) else {
                        throw RequestValidationError(
                            loc: ["body", "status"], msg: "Input should be 'connected', 'disconnected' or 'error'",
                            type: "enum")
                    }
                    machine.status = status
                }
                if case .some(let value?) = try patch.bool("is_available") { machine.isAvailable = value }
                if case .some(let value?) = try patch.bool("alerts_enabled") { machine.alertsEnabled = value }
                if case .some(let value?) = try patch.date("last_seen") {
                    machine.lastSeen = Timestamp.truncated(value)
                }
                if case .some(let value) = try patch.dictionary("machine_parameters") {
                    machine.machineParameters = value
                }
                if case .some(let value) = try patch.dictionary("machine_sensitive_parameters") {
                    try await tx.deleteSecrets(ownerKind: .machine, ownerID: id)
                    if let value {
                        let sealed = try call.app.vault.sealAll(
                            value, organizationID: call.organizationID, ownerKind: .machine, ownerID: id, now: time)
                        for secret in sealed.secrets { try await tx.insertSecret(secret) }
                        machine.machineSensitiveParameters = sealed.aliases
                    } else {
                        machine.machineSensitiveParameters = nil
                    }
                }
                if case .some(let session) = try patch.uuid("reserved_session_id") {
                    if let session {
                        guard let record = try await tx.session(id: session, forUpdate: false),
                            record.organizationID == call.organizationID
                        else { throw ControlPlaneError.notFound("session \(session) not found") }
                        // A machine holds one session: reserving another ends the one it held.
                        if let held = machine.reservedSessionID, held != session {
                            try await Scheduler.releaseSession(held, in: tx)
                        }
                        machine.reservedSessionID = session
                    } else if let held = machine.reservedSessionID {
                        // Clearing a stuck reservation ends the session.
                        machine.reservedSessionID = nil
                        try await tx.save(machine)
                        try await Scheduler.releaseSession(held, in: tx)
                    }
                }
                try await tx.save(machine)
                return machine
            }
            return try .json(machine)
        }

        api.add(.delete, "/v1/machines/:id") { call in
            let id = try call.id()
            try await call.app.store.transaction { tx in
                guard
                    try await tx.fetch(Machine.self, id: id, organizationID: call.organizationID, forUpdate: true)
                        != nil
                else { throw ControlPlaneError.notFound("machine \(id) not found") }
                try await tx.detachRuns(fromMachine: id)
                try await tx.deleteSecrets(ownerKind: .machine, ownerID: id)
                try await tx.delete(Machine.self, id: id, organizationID: call.organizationID)
            }
            return .empty
        }

        api.add(.get, "/v1/machines/:id/pools") { call in
            let id = try call.id()
            let pools = try await call.app.store.transaction { tx in
                guard
                    try await tx.fetch(Machine.self, id: id, organizationID: call.organizationID, forUpdate: false)
                        != nil
                else { throw ControlPlaneError.notFound("machine \(id) not found") }
                return try await Self.pools(of: id, in: tx, call: call)
            }
            return try .json(pools)
        }

        api.add(.put, "/v1/machines/:id/pools") { call in
            let id = try call.id()
            struct Body: Decodable {
                var poolIDs: [String]
                enum CodingKeys: String, CodingKey { case poolIDs = "pool_ids" }
            }
            let poolIDs = try requireUUIDs(try call.decode(Body.self).poolIDs, field: "pool_ids") ?? []
            let machine = try await call.app.store.transaction { tx in
                guard
                    var machine = try await tx.fetch(
                        Machine.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("machine \(id) not found") }
                for poolID in poolIDs
                where try await tx.fetch(Pool.self, id: poolID, organizationID: call.organizationID, forUpdate: false)
                    == nil
                {
                    throw ControlPlaneError.notFound("pool \(poolID) not found")
                }
                try await tx.setPools(poolIDs, ofMachine: id)
                machine.pools = try await Self.pools(of: id, in: tx, call: call)
                return machine
            }
            return try .json(machine)
        }
    }

    /// The machine's pools with their machine counts.
    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) }
    }

    static func pools(of machineID: String, in tx: any StoreTransaction, call: APICall) async throws -> [Pool] {
        let ids = try await tx.poolIDs(ofMachine: machineID)
        let counts = try await tx.machineCounts(pools: ids)
        var pools: [Pool] = []
        for id in ids {
            if var pool = try await tx.fetch(Pool.self, id: id, organizationID: call.organizationID, forUpdate: false) {
                pool.machineCount = counts[id] ?? 0
                pools.append(pool)
            }
        }
        return pools
    }
}
