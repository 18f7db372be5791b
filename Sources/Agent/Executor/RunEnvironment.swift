import CyberdeskAPI

/// What the run executor needs from outside the desktop while it executes a run: the
/// server (secrets, history, uploads, downloads) and progress reporting. The daemon's
/// implementation talks to the control plane over the agent protocol; tests may pass a
/// recording fake.
public protocol RunEnvironment: Sendable {
    /// The value of a sensitive input, fetched right before a `type` action types it.
    /// `name` is the `{$name}` placeholder's name (a dotted path for nested values).
    func secret(named name: String) async throws -> JSONValue

    /// The bytes of an input attachment (verified by the caller against size and SHA-256).
    func download(attachmentID: String) async throws -> [UInt8]

    /// Appends entries to the run's message history. Entries never contain secret values.
    func record(_ events: [JSONObject]) async throws

    /// Stores a PNG screenshot of the run; returns its image id for the history.
    func uploadImage(_ png: [UInt8]) async throws -> String

    /// Uploads a file as an OUTPUT attachment; returns the attachment id.
    func export(filename: String, path: String, bytes: [UInt8]) async throws -> String

    /// Called when a step starts, so heartbeats can report progress.
    func stepStarted(index: Int) async
}
