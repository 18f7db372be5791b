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
        // Graceful shutdown cancels the sleep between sweeps; that is a normal end.
        do {
            try await cancelWhenGracefulShutdown { try await loop() }
        } catch is CancellationError {}
    }

    private func loop() async throws {
        while !Task.isCancelled {
            let cutoff = Date().addingTimeInterval(-24 * 3600)
            do {
                let removed =
                    try await store.exclusively(AdvisoryLock.idempotency) {
                        try await store.transaction { tx in
                            // Commands left by a replica that died while waiting for the result.
                            try await tx.deleteCommands(ids: [], createdBefore: Date().addingTimeInterval(-3600))
                            return try await tx.deleteIdempotencyEntries(olderThan: cutoff)
                        }
                    } ?? 0
                if let blobs = blobs as? DatabaseBlobStore {
                    _ = try await store.exclusively(AdvisoryLock.idempotency) {
                        try await blobs.deleteAbandonedUploads(startedBefore: Date().addingTimeInterval(-3600))
                    }
                }
                if removed > 0 { logger.debug("idempotency keys expired", metadata: ["count": "\(removed)"]) }
            } catch {
                logger.warning("sweep failed", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }
}
