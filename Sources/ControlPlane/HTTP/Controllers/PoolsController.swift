import CyberdeskAPI
import FoundationEssentials

/// `/v1/pools`: named groups of machines and their shared parameters.
struct PoolsController {
    struct MachineIDs: Decodable {
        var machineIDs: [String]
        enum CodingKeys: String, CodingKey { case machineIDs = "machine_ids" }
    }

    func register(_ api: APIRouter) {
        api.add(.post, "/v1/pools") { call in
            let create = try call.decode(PoolCreate.self)
            guard !create.name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw RequestValidationError(
                    loc: ["body", "name"], msg: "String should have at least 1 character", type: "string_too_short")
            }
            let limits = call.app.limits
            try limits.check(create.name, field: "name", max: limits.nameCharacters)
            try limits.check(create.description, field: "description", max: limits.descriptionCharacters)
            let time = Timestamp.truncated(call.app.now())
            let id = UUIDText.new()
            let sealed = try call.app.vault.sealAll(
                create.poolSensitiveParameters ?? [:], organizationID: call.organizationID, ownerKind: .pool,
                ownerID: id,
                now: time)
            let pool = Pool(
                id: id, organizationID: call.organizationID, name: create.name, description: create.description,
                poolParameters: create.poolParameters,
                poolSensitiveParameters: create.poolSensitiveParameters == nil ? nil : sealed.aliases, machineCount: 0,
                createdAt: time, updatedAt: time)
            try await call.app.store.transaction { tx in
                do {
                    try await tx.insert(pool)
                } catch StoreError.conflict {
                    throw ControlPlaneError.conflict(
                        "a pool named '\(create.name)' already exists in this organization")
                }
                for secret in sealed.secrets { try await tx.insertSecret(secret) }
            }
            return try .json(pool, status: .created)
        }

        api.add(.get, "/v1/pools") { call in
            var filters = try call.dateFilters()
            if let search = call.query("search"), !search.isEmpty {
                filters.append(.contains(["search_text"], search))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let withMachines = call.includes.contains("machines")
            let (page, machineIDs) = try await call.app.store.transaction { tx in
                var page = try await tx.list(
                    Pool.self, organizationID: call.organizationID, filters: chosen, order: .newestFirst, skip: skip,
                    limit: limit)
                let counts = try await tx.machineCounts(pools: page.items.map(\.id))
                var machineIDs: [String] = []
                for index in page.items.indices {
                    page.items[index].machineCount = counts[page.items[index].id] ?? 0
                    if withMachines { machineIDs += try await tx.machineIDs(inPool: page.items[index].id) }
                }
                return (page, machineIDs)
            }
            let included =
                withMachines ? try await IncludedResources.machines(ids: machineIDs, call: call, withPools: false) : nil
            return try .json(Page(items: page.items, total: page.total, skip: skip, limit: limit, included: included))
        }

        api.add(.get, "/v1/pools/:id") { call in
            let withMachines = try call.queryBool("include_machines") == true || call.includes.contains("machines")
            return try .json(try await Self.fetch(call, withMachines: withMachines))
        }

        api.add(.patch, "/v1/pools/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let limits = call.app.limits
            try limits.check(try patch.string("name") ?? nil, field: "name", max: limits.nameCharacters)
            try limits.check(
                try patch.string("description") ?? nil, field: "description", max: limits.descriptionCharacters)
            let time = Timestamp.truncated(call.app.now())
            let pool = try await call.app.store.transaction { tx in
                guard
                    var pool = try await tx.fetch(
                        Pool.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("pool \(id) not found") }
                if case .some(let name?) = try patch.string("name") { pool.name = name }
                if case .some(let value) = try patch.string("description") { pool.description = value }
                if case .some(let value) = try patch.dictionary("pool_parameters") { pool.poolParameters = value }
                if case .some(let value) = try patch.dictionary("pool_sensitive_parameters") {
                    try await tx.deleteSecrets(ownerKind: .pool, ownerID: id)
                    if let value {
                        let sealed = try call.app.vault.sealAll(
                            value, organizationID: call.organizationID, ownerKind: .pool, ownerID: id, now: time)
                        for secret in sealed.secrets { try await tx.insertSecret(secret) }
                        pool.poolSensitiveParameters = sealed.aliases
                    } else {
                        pool.poolSensitiveParameters = nil
                    }
                }
                pool.updatedAt = time
                pool.machineCount = try await tx.machineCounts(pools: [id])[id] ?? 0
                do {
                    try await tx.save(pool)
                } catch StoreError.conflict {
                    throw ControlPlaneError.conflict("a pool named '\(pool.name)' already exists in this organization")
                }
                return pool
            }
            return try .json(pool)
        }

        api.add(.delete, "/v1/pools/:id") { call in
            let id = try call.id()
            try await call.app.store.transaction { tx in
                guard try await tx.delete(Pool.self, id: id, organizationID: call.organizationID) else {
                    throw ControlPlaneError.notFound("pool \(id) not found")
                }
                try await tx.deleteSecrets(ownerKind: .pool, ownerID: id)
            }
            return .empty
        }

        api.add(.post, "/v1/pools/:id/machines") { call in
            let machineIDs = try requireUUIDs(try call.decode(MachineIDs.self).machineIDs, field: "machine_ids") ?? []
            let id = try call.id()
            try await call.app.store.transaction { tx in
                try await Self.checkMembers(pool: id, machines: machineIDs, in: tx, call: call)
                try await tx.addMachines(machineIDs, toPool: id)
            }
            return try .json(try await Self.fetch(call, withMachines: true))
        }

        api.add(.delete, "/v1/pools/:id/machines") { call in
            let machineIDs = try requireUUIDs(try call.decode(MachineIDs.self).machineIDs, field: "machine_ids") ?? []
            let id = try call.id()
            try await call.app.store.transaction { tx in
                try await Self.checkMembers(pool: id, machines: machineIDs, in: tx, call: call)
                try await tx.removeMachines(machineIDs, fromPool: id)
            }
            return .empty
        }
    }

    static func checkMembers(pool: String, machines: [String], in tx: any StoreTransaction, call: APICall) async throws
    {
        guard try await tx.fetch(Pool.self, id: pool, organizationID: call.organizationID, forUpdate: true) != nil
        else {
            throw ControlPlaneError.notFound("pool \(pool) not found")
        }
        for machineID in machines
        where try await tx.fetch(Machine.self, id: machineID, organizationID: call.organizationID, forUpdate: false)
            == nil
        {
            throw ControlPlaneError.notFound("machine \(machineID) not found")
        }
    }

    static func fetch(_ call: APICall, withMachines: Bool) async throws -> Pool {
        let id = try call.id()
        return try await call.app.store.transaction { tx in
            guard
                var pool = try await tx.fetch(Pool.self, id: id, organizationID: call.organizationID, forUpdate: false)
            else { throw ControlPlaneError.notFound("pool \(id) not found") }
            let machineIDs = try await tx.machineIDs(inPool: id)
            pool.machineCount = machineIDs.count
            if withMachines {
                var machines: [Machine] = []
                for machineID in machineIDs {
                    if let machine = try await tx.fetch(
                        Machine.self, id: machineID, organizationID: call.organizationID, forUpdate: false)
                    {
                        machines.append(machine)
                    }
                }
                pool.machines = machines
            }
            return pool
        }
    }
}
