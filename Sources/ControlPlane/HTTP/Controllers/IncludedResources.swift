import CyberdeskAPI
import FoundationEssentials

/// `?include=` support: related resources as `{"type": ..., "id": ..., ...fields}` objects.
enum IncludedResources {
    private static let encoder = APIJSON.encoder()

    static func object<T: Encodable>(_ value: T, type: String) throws -> JSONObject {
        let data = try encoder.encode(value)
        guard case .object(var object) = try APIJSON.decoder().decode(JSONValue.self, from: data) else { return [:] }
        object["type"] = .string(type)
        return object
    }

    static func workflows(ids: [String], call: APICall) async throws -> [JSONObject] {
        let unique = RunFactory.unique(ids)
        let workflows = try await call.app.store.transaction { tx in
            var found: [Workflow] = []
            for id in unique {
                if let workflow = try await tx.fetch(
                    Workflow.self, id: id, organizationID: call.organizationID, forUpdate: false)
                {
                    found.append(workflow)
                }
            }
            return found
        }
        return try workflows.map { try object($0, type: "workflow") }
    }

    static func machines(ids: [String], call: APICall, withPools: Bool) async throws -> [JSONObject] {
        let unique = RunFactory.unique(ids)
        let machines = try await call.app.store.transaction { tx in
            var found: [Machine] = []
            for id in unique {
                if var machine = try await tx.fetch(
                    Machine.self, id: id, organizationID: call.organizationID, forUpdate: false)
                {
                    if withPools {
                        machine.pools = try await MachinesController.pools(of: machine.id, in: tx, call: call)
                    }
                    found.append(machine)
                }
            }
            return found
        }
        return try machines.map { try object($0, type: "machine") }
    }

    static func pools(_ pools: [Pool]) throws -> [JSONObject] {
        var seen = Set<String>()
        return try pools.filter { seen.insert($0.id).inserted }.map { try object($0, type: "pool") }
    }
}
