import CyberdeskAPI

/// What the run executor needs from outside the desktop while it executes a run: the
/// server (secrets, history, uploads, downloads) and progress reporting. The daemon's
/// implementation talks to the control plane over the agent protocol; tests may pass a
/// recording fake.
public protocol RunEnvironment: Sendable {
    /// The value of a sensitive input, fetched right before a `type` action types it.
    /// `name` is the `{$name}` placeholder's name (a dotted path for nested values).
    func secret(named name: String) async throws -> JSONValue

    /// Streams an input attachment into `path`, a new file the caller then verifies (size
    /// and SHA-256) and renames into place; returns the content's SHA-256 and size. More than
    /// `maxBytes` is an error.
    func download(attachmentID: String, to path: String, maxBytes: Int64) async throws -> (sha256: String, size: Int64)

    /// Appends entries to the run's message history. Entries never contain secret values.
    func record(_ events: [JSONObject]) async throws

    /// Stores a PNG screenshot of the run; returns its image id for the history.
    func uploadImage(_ png: [UInt8]) async throws -> String

    /// Uploads the file at `path` as an OUTPUT attachment, streamed from disk; returns the
    /// attachment id.
    func export(filename: String, path: String) async throws -> String

    /// Called when a step starts, so heartbeats can report progress, with the history events
    /// not yet sent (those of the steps before), which go to the server in the same call.
    /// Throws when events were given and could not be sent.
    func stepStarted(index: Int, events: [JSONObject]) async throws

    /// The next steps of a run a model performs (`RunAssignment.planner`); the environment
    /// fills in the lease token.
    func plan(_ request: PlanRequest) async throws -> PlanResponse

    /// Asks the run's cache detection model whether the screen still shows the state a step
    /// was recorded in (`RunAssignment.cacheDetection`); the environment fills in the lease.
    func sameScreen(_ request: SameScreenRequest) async throws -> SameScreenResponse
}

extension RunEnvironment {
    public func plan(_ request: PlanRequest) async throws -> PlanResponse {
        throw StepFailure.error("this environment cannot ask a model for steps")
    }

    public func sameScreen(_ request: SameScreenRequest) async throws -> SameScreenResponse {
        throw StepFailure.error("this environment cannot ask a model about the screen")
    }
}
