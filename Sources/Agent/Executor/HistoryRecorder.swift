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

    /// The events that go out with the next step's start (those of the steps before) when the
    /// batch is due, else none; the caller sends them and ``restore(_:)``s them on failure.
    mutating func takeDue() -> [JSONObject] {
        guard let first = firstPendingAt,
            pending.count >= Self.batchSize || first.duration(to: .now) >= Self.maximumDelay
        else { return [] }
        return takePending()
    }

    mutating func flush() async throws {
        guard !pending.isEmpty else { return }
        try await environment.record(pending)
        pending.removeAll()
        firstPendingAt = nil
    }

    /// The events not sent yet, handed to a call that sends them itself (`plan`).
    mutating func takePending() -> [JSONObject] {
        defer {
            pending.removeAll()
            firstPendingAt = nil
        }
        return pending
    }

    /// Puts back events a failed call did not send, before any appended since.
    mutating func restore(_ events: [JSONObject]) {
        guard !events.isEmpty else { return }
        pending = events + pending
        if firstPendingAt == nil { firstPendingAt = .now }
    }
}
