import CyberdeskAPI
import FoundationEssentials
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The run executor's window on the control plane, for one claimed run: every call carries
/// the run's lease token, so a run taken over by another attempt is refused (409) and the
/// executor stops. Secret values pass through here once, on their way to `type`.
public final class ServerRunEnvironment: RunEnvironment {
    let client: AgentClient
    let runID: String
    let lease: String
    let state: StateDirectory
    let logger: Logger
    private let step = Mutex<Int?>(nil)

    public init(
        client: AgentClient, runID: String, lease: String, state: StateDirectory, logger: Logger
    ) {
        self.client = client
        self.runID = runID
        self.lease = lease
        self.state = state
        self.logger = logger
    }

    /// The step the run is at, for heartbeats and the restart record.
    public var currentStep: Int? { step.withLock { $0 } }

    public func secret(named name: String) async throws -> JSONValue {
        logger.debug("fetching secret", metadata: ["run.id": "\(runID)", "secret.name": "\(name)"])
        return try await retrying { try await self.client.secret(runID: self.runID, lease: self.lease, name: name) }
    }

    public func download(attachmentID: String, to path: String, maxBytes: Int64) async throws -> (
        sha256: String, size: Int64
    ) {
        try await retrying {
            unlink(path)
            return try await self.client.download(attachmentID: attachmentID, to: path, maxBytes: maxBytes)
        }
    }

    public func record(_ events: [JSONObject]) async throws {
        guard !events.isEmpty else { return }
        try await retrying { try await self.client.events(runID: self.runID, lease: self.lease, events: events) }
    }

    public func uploadImage(_ png: [UInt8]) async throws -> String {
        let digest = SHA256Digest.hex(png)
        return try await retrying {
            try await self.client.upload(
                runID: self.runID, lease: self.lease, kind: "images", query: "", bytes: png, contentType: "image/png",
                sha256: digest
            ).id
        }
    }

    public func export(filename: String, path: String) async throws -> String {
        let query = "?filename=\(Self.queryEscape(filename))&path=\(Self.queryEscape(path))"
        return try await retrying {
            try await self.client.upload(
                runID: self.runID, lease: self.lease, kind: "attachments", query: query, file: path,
                contentType: "application/octet-stream"
            ).id
        }
    }

    /// Records the step locally (for a restart) and tells the server at once (a heartbeat),
    /// so a machine lost mid-step is reported with the right step. The heartbeat carries the
    /// history events of the steps before; without events it is best effort (the periodic
    /// heartbeats follow), with them it is retried like `record`.
    public func stepStarted(index: Int, events: [JSONObject]) async throws {
        step.withLock { $0 = index }
        try? state.setHeldRun(HeldRun(runID: runID, leaseToken: lease, stepIndex: index))
        guard !events.isEmpty else {
            _ = try? await client.heartbeat(runID: runID, lease: lease, stepIndex: index)
            return
        }
        let answer = try await retrying {
            try await self.client.heartbeat(runID: self.runID, lease: self.lease, stepIndex: index, events: events)
        }
        // A server that predates events on heartbeats did not keep them.
        if answer.eventsRecorded != true { try await record(events) }
    }

    /// Asks the server for the next steps, with this run's lease. A retried call carries the
    /// same sequence number, so the server answers it without a second model turn.
    public func plan(_ request: PlanRequest) async throws -> PlanResponse {
        var request = request
        request.leaseToken = lease
        let sent = request
        return try await retrying { try await self.client.plan(runID: self.runID, request: sent) }
    }

    public func sameScreen(_ request: SameScreenRequest) async throws -> SameScreenResponse {
        var request = request
        request.leaseToken = lease
        let sent = request
        return try await retrying { try await self.client.sameScreen(runID: self.runID, request: sent) }
    }

    /// Transient failures (server restarting, network blip) are retried a few times with
    /// backoff; anything else fails the step at once.
    func retrying<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var backoff = Backoff(base: 0.5, maximum: 8)
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as AgentClientError where error.isTransient && attempt < 6 {
                attempt += 1
                var retryAfter: Double?
                if case .unavailable(_, _, let after) = error { retryAfter = after }
                try await Task.sleep(for: .milliseconds(Int64(backoff.next(retryAfter: retryAfter) * 1000)))
            }
        }
    }

    static func queryEscape(_ text: String) -> String { text.percentEncoded(keeping: "-._~/") }
}
