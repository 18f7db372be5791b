import ControlPlane
import CyberdeskAPI
import Testing

extension StoreError {
    var isConflict: Bool {
        if case .conflict = self { return true }
        return false
    }
}

/// Thrown on purpose inside a transaction to make it roll back.
struct DeliberateFailure: Error, Equatable {}

extension Store {
    /// One record by id, outside any caller transaction.
    func fetch<R: StoredRecord>(_ type: R.Type, id: String, organizationID: String?) async throws -> R? {
        try await transaction { try await $0.fetch(type, id: id, organizationID: organizationID, forUpdate: false) }
    }

    func insert<R: StoredRecord>(_ records: [R]) async throws {
        try await transaction { tx in
            for record in records { try await tx.insert(record) }
        }
    }

    func list<R: StoredRecord>(
        _ type: R.Type, organizationID: String, filters: [RecordFilter] = [], order: RecordOrder = .oldestFirst,
        skip: Int = 0, limit: Int = 100
    ) async throws -> (items: [R], total: Int) {
        try await transaction {
            try await $0.list(
                type, organizationID: organizationID, filters: filters, order: order, skip: skip, limit: limit)
        }
    }

    func secrets(ofRun runID: String) async throws -> [VaultSecret] {
        try await transaction { try await $0.secrets(ownerKind: .run, ownerID: runID) }
    }
}
