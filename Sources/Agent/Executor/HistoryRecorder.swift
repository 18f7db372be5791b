import CyberdeskAPI

/// Collects the run's history events and sends them in batches: after each step (so a
/// customer watching the run sees a step as soon as it ends, even when the next one is a
/// long wait), at most ``batchSize`` at a time, and whenever the run ends. Events that could
/// not be sent stay queued for the next attempt.
struct HistoryRecorder: Sendable {
    static let batchSize = 50
    static let maximumDelay = Duration.zero

    private let environment: any RunEnvironment
    private var pending: [JSONObject] = []
    private var firstPendingAt: ContinuousClock.Instant?

    init(environment: any RunEnvironment) {
        self.environment = environment
    }

    mutating func append(_ event: JSONObject) {
        if pending.isEmpty { firstPendingAt = .now }
        pending.append(event)
    }

    /// Sends what is queued when the batch is full or old enough.
    mutating func flushIfDue() async throws {
        guard let first = firstPendingAt else { return }
        if pending.count >= Self.batchSize || first.duration(to: .now) >= Self.maximumDelay {
            try await flush()
        }
    }

    mutating func flush() async throws {
        guard !pending.isEmpty else { return }
        try await environment.record(pending)
        pending.removeAll()
        firstPendingAt = nil
    }
}
