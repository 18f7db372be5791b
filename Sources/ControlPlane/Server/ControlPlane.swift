import CyberdeskAPI
import FoundationEssentials
import Logging
import Planner

/// The control plane's parts, built once per process and shared by every request.
public struct ControlPlane: Sendable {
    public let store: any Store
    public let blobs: any BlobStore
    public let vault: Vault
    public let signer: URLSigner
    public let runs: RunFactory
    public let scheduler: Scheduler
    public let limits: Limits
    /// The address clients reach the server at, for signed URLs; when nil the request's
    /// `Host` header is used.
    public let publicURL: String?
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// Wakes long-polling machines and relays computer commands.
    public let hub: MachineHub
    /// The database's clock, when replicas share a PostgreSQL database (`now` reads it).
    public let databaseClock: DatabaseClock?
    public let agentTiming: AgentTiming
    /// Builds the client of a model endpoint: `ModelClient`, the real adapters over the shared
    /// HTTP client (tests point configurations at the scripted model server instead).
    public let modelAdapter: @Sendable (ModelEndpoint, Logger) -> any ModelAdapter

    /// Model configurations as endpoints for the planner loop.
    public var models: ModelResolver { ModelResolver(vault: vault) }
    /// Prompt images for the planner loop.
    public var promptImages: PromptImages { PromptImages(store: store, blobs: blobs) }

    public static let defaultModelAdapter: @Sendable (ModelEndpoint, Logger) -> any ModelAdapter = {
        endpoint, logger in
        ModelClient(endpoint: endpoint, httpClient: ModelClient.sharedHTTPClient, logger: logger)
    }

    /// The agent protocol's clocks, all judged on the server.
    public struct AgentTiming: Sendable {
        /// How long a poll waits for a message before answering 204.
        public var pollWait: Int
        /// How long a claim or heartbeat keeps a run leased.
        public var lease: Int
        /// How often agents send heartbeats during a run.
        public var heartbeat: Int
        /// An offer not claimed within this many seconds goes back to the queue.
        public var offerTimeout: Double
        /// A started run whose lease lapsed this long ago is marked `error`. With the lease
        /// of 30 s (three missed heartbeats) this marks a dead machine's run within about
        /// 41–42 s of its last heartbeat, sweep interval included (BENCHMARKS.md, scenario e).
        public var lostGrace: Double
        /// How long a computer command may take.
        public var commandTimeout: Double

        public init(
            pollWait: Int = 25, lease: Int = 30, heartbeat: Int = 10, offerTimeout: Double = 20, lostGrace: Double = 10,
            commandTimeout: Double = 30
        ) {
            self.pollWait = pollWait
            self.lease = lease
            self.heartbeat = heartbeat
            self.offerTimeout = offerTimeout
            self.lostGrace = lostGrace
            self.commandTimeout = commandTimeout
        }

        /// A machine silent for this long is `disconnected`.
        public var disconnectAfter: Double { Double(2 * pollWait + 10) }
    }

    public init(
        store: any Store, blobs: any BlobStore, vault: Vault, signer: URLSigner, limits: Limits = Limits(),
        publicURL: String? = nil, agentTiming: AgentTiming = AgentTiming(), logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }, databaseClock: DatabaseClock? = nil,
        modelAdapter: @escaping @Sendable (ModelEndpoint, Logger) -> any ModelAdapter = ControlPlane.defaultModelAdapter
    ) {
        self.modelAdapter = modelAdapter
        self.agentTiming = agentTiming
        self.databaseClock = databaseClock
        hub = MachineHub(broadcasting: store.cluster != nil)
        self.store = store
        self.blobs = blobs
        self.vault = vault
        self.signer = signer
        self.limits = limits
        self.publicURL = publicURL
        self.logger = logger
        self.now = now
        runs = RunFactory(
            store: store, blobs: blobs, vault: vault, limits: RunFactory.Limits(maxFileBytes: limits.maxFileBytes),
            now: now)
        scheduler = Scheduler(store: store, logger: logger, now: now)
    }

    /// Deletes blobs no attachment refers to any more.
    func releaseBlobs(_ attachments: [RunAttachment]) async {
        for sha256 in Set(attachments.map(\.sha256)) {
            let count = (try? await store.transaction { try await $0.attachmentCount(sha256: sha256) }) ?? 1
            if count == 0 { try? await blobs.delete(sha256) }
        }
    }
}
