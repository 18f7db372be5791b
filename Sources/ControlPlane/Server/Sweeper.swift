import FoundationEssentials
import Logging
import ServiceLifecycle

/// Background upkeep (one replica at a time): forgets idempotency keys after 24 hours, and
/// after an hour computer commands and database-blob uploads a stopped replica left behind.
public struct Sweeper: Service {
    let store: any Store
    let blobs: (any BlobStore)?
    let logger: Logger
    let interval: Duration

    public init(store: any Store, blobs: (any BlobStore)? = nil, logger: Logger, interval: Duration = .seconds(600)) {
        self.store = store
        self.blobs = blobs
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval, logger: logger, failure: "sweep failed") { try await sweep() }
    }

    /// One pass, on one replica at a time.
    func sweep() async throws {
        let now = Date()
        let removed =
            try await store.exclusively(AdvisoryLock.idempotency) {
                let removed = try await store.transaction { tx in
                    // Commands left by a replica that died while waiting for the result.
                    try await tx.deleteCommands(createdBefore: now.addingTimeInterval(-3600))
                    return try await tx.deleteIdempotencyEntries(olderThan: now.addingTimeInterval(-24 * 3600))
                }
                try await (blobs as? DatabaseBlobStore)?.deleteAbandonedUploads(
                    startedBefore: now.addingTimeInterval(-3600))
                return removed
            } ?? 0
        if removed > 0 { logger.debug("idempotency keys expired", metadata: ["count": "\(removed)"]) }
    }
}
