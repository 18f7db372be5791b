import CyberdeskAPI
import FoundationEssentials

/// Everything the control plane keeps. One implementation per database engine; all of them
/// pass `StoreConformanceTests`. Work happens in transactions so that a request's changes
/// land together or not at all.
public protocol Store: Sendable {
    /// Creates or upgrades the schema; safe to run on every start and from several processes.
    func migrate() async throws

    func transaction<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T

    /// Runs `body`, which only reads (no `forUpdate`, no writes), with each statement seeing
    /// the latest committed data; cheaper than `transaction` where the engine allows.
    func read<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T

    /// `true` when the database answers a trivial query.
    func ping() async -> Bool

    func close() async throws

    /// Runs `body` unless another replica is running the job `key` (PostgreSQL advisory
    /// lock); returns nil when it is. An embedded store has one server, so it just runs it.
    func exclusively<T: Sendable>(_ key: Int64, _ body: @Sendable () async throws -> T) async throws -> T?

    /// How replicas sharing this store tell each other to look again; nil when the store
    /// belongs to one server process.
    var cluster: (any ClusterChannel)? { get }
}

/// Notifications between replicas that share a database, and the database's clock.
public protocol ClusterChannel: Sendable {
    /// Sends every payload on `channel`, in one transaction (delivered after its commit).
    func notify(channel: String, payloads: [String]) async throws
    /// Listens on `channel` until cancelled or the connection is lost (then it throws).
    /// `ready` is called once the server has confirmed the subscription.
    func listen(
        channel: String, ready: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void
    ) async throws
    /// The database server's clock.
    func currentTime() async throws -> Date
}

/// What a transaction can do. Records (`StoredRecord`) share the generic operations; the
/// rest are the relations and the scheduling queries.
public protocol StoreTransaction: Sendable {
    // MARK: Records

    func insert<R: StoredRecord>(_ record: R) async throws
    /// Replaces the stored record with the same id and organization.
    func save<R: StoredRecord>(_ record: R) async throws
    /// `organizationID` nil means any organization (for machine credentials and signed URLs).
    func fetch<R: StoredRecord>(_ type: R.Type, id: String, organizationID: String?, forUpdate: Bool) async throws
        -> R?
    @discardableResult
    func delete<R: StoredRecord>(_ type: R.Type, id: String, organizationID: String) async throws -> Bool
    func list<R: StoredRecord>(
        _ type: R.Type, organizationID: String, filters: [RecordFilter], order: RecordOrder, skip: Int, limit: Int
    ) async throws -> (items: [R], total: Int)
    /// The same page as `list`, as `fields` of the stored documents (the JSON each record is
    /// kept as), picked by the database without decoding a record: for lists that show a few
    /// fields of many records (`fields=`). A field a document lacks is null.
    func listFields<R: StoredRecord>(
        _ type: R.Type, _ fields: [String], organizationID: String, filters: [RecordFilter], order: RecordOrder,
        skip: Int, limit: Int
    ) async throws -> (items: [JSONObject], total: Int)

    // MARK: Organizations and keys

    func organization(named name: String) async throws -> Organization?
    func organization(id: String) async throws -> Organization?
    func insertOrganization(_ organization: Organization) async throws
    func organizationCount() async throws -> Int
    func insertAPIKey(_ key: APIKeyRecord) async throws
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func apiKeys() async throws -> [APIKeyRecord]
    func saveAPIKey(_ key: APIKeyRecord) async throws
    func insertRegistrationToken(_ token: RegistrationTokenRecord) async throws
    func registrationToken(hash: String) async throws -> RegistrationTokenRecord?
    func saveRegistrationToken(_ token: RegistrationTokenRecord) async throws
    /// The organization's registration tokens, newest first.
    func registrationTokens(organizationID: String) async throws -> [RegistrationTokenRecord]
    /// Ends every dashboard session signed in with the key whose SHA-256 this is.
    func deleteWebSessions(keyHash: String) async throws

    // MARK: Pools and machines

    func poolIDs(ofMachine machineID: String) async throws -> [String]
    func machineIDs(inPool poolID: String) async throws -> [String]
    func machineCounts(pools poolIDs: [String]) async throws -> [String: Int]
    func addMachines(_ machineIDs: [String], toPool poolID: String) async throws
    func removeMachines(_ machineIDs: [String], fromPool poolID: String) async throws
    func setPools(_ poolIDs: [String], ofMachine machineID: String) async throws
    /// Runs that name the machine lose the reference (the runs are kept).
    func detachRuns(fromMachine machineID: String) async throws

    // MARK: Runs and sessions

    func setRunPools(_ poolIDs: [String], run runID: String) async throws
    func insertSession(_ session: SessionRecord) async throws
    func session(id: String, forUpdate: Bool) async throws -> SessionRecord?
    func saveSession(_ session: SessionRecord) async throws
    /// The runs of a session in creation order.
    func runs(inSession sessionID: String) async throws -> [StoredRun]
    /// The next run `machineID` may take, or nil. The machine must be connected, available
    /// and hold no run; the run is chosen as `Scheduler` documents. Under PostgreSQL the
    /// candidate row is locked with `SKIP LOCKED`, so concurrent schedulers never pick the
    /// same run.
    func nextRunCandidate(forMachine machine: Machine) async throws -> StoredRun?
    /// Deletes the workflow's runs (with their attachments, pools and secrets) and
    /// trajectories; returns the deleted runs' attachments so their blobs can be released.
    func deleteRuns(ofWorkflow workflowID: String) async throws -> [RunAttachment]
    func attachments(ofRun runID: String) async throws -> [RunAttachment]
    /// How many records hold the blob: attachments and prompt images (which share the blob
    /// store), so that releasing one never deletes bytes the other still needs.
    func attachmentCount(sha256: String) async throws -> Int

    // MARK: Agents

    /// Stores the SHA-256 of the machine's credential (nil revokes it).
    func setMachineToken(hash: String?, machineID: String) async throws
    func machine(tokenHash: String) async throws -> Machine?
    func machine(fingerprint: String, organizationID: String) async throws -> Machine?
    /// The machine's runs that are dispatched and not finished, oldest first.
    func activeRuns(onMachine machineID: String) async throws -> [StoredRun]
    /// Runs whose offer lapsed (offered before `offeredBefore`, never claimed) or whose
    /// lease ended before `leaseBefore`, in any organization.
    /// Machines of the organization that could take a run now — connected, available,
    /// holding no run and no session — and members of every pool in `poolIDs`; at most
    /// `limit`, longest idle first. For waking only the polls that can take new work.
    func idleMachineIDs(organizationID: String, poolIDs: [String], limit: Int) async throws -> [String]
    /// Runs waiting for a machine, in every organization: the `limit` first in line and the
    /// `limit` newest.
    func waitingRuns(limit: Int) async throws -> [StoredRun]
    func runsToSweep(offeredBefore: Date, leaseBefore: Date) async throws -> [StoredRun]
    /// Connected machines not seen since `date`, in any organization.
    /// A server-wide setting; `claimSetting` stores `value` unless one is stored already
    /// and returns the stored one.
    func claimSetting(_ name: String, value: String) async throws -> String

    // MARK: Computer commands between replicas

    func insertCommand(_ command: AgentCommand, machineID: String, at time: Date) async throws
    /// Commands for the machine not yet answered and not carried by a poll since
    /// `deliveredBefore`; marks them carried at `time`.
    func takeCommands(machineID: String, deliveredBefore: Date, at time: Date) async throws -> [AgentCommand]
    /// Stores the machine's answer; false when no such unanswered command is waiting.
    func completeCommand(id: String, machineID: String, result: CommandResult, at time: Date) async throws -> Bool
    func commandResult(id: String) async throws -> CommandResult?
    func deleteCommand(id: String) async throws
    /// Commands older than `date`, left by a replica that stopped while waiting.
    func deleteCommands(createdBefore date: Date) async throws

    /// The count and newest sequence of runs waiting for a machine, to notice new work.
    func waitingRunsSignature() async throws -> [Int64]
    func machines(connectedAndSeenBefore date: Date) async throws -> [Machine]

    // MARK: Vault

    func insertSecret(_ secret: VaultSecret) async throws
    func secrets(ownerKind: VaultSecret.OwnerKind, ownerID: String) async throws -> [VaultSecret]
    func deleteSecrets(ownerKind: VaultSecret.OwnerKind, ownerID: String) async throws

    // MARK: Idempotency

    /// Records a new in-flight request, or returns what is already recorded for the key.
    func beginIdempotentRequest(_ entry: IdempotencyEntry) async throws -> IdempotencyEntry?
    func completeIdempotentRequest(_ entry: IdempotencyEntry) async throws
    func abandonIdempotentRequest(organizationID: String, key: String) async throws
    func deleteIdempotencyEntries(olderThan date: Date) async throws -> Int
}

/// A filter on a record's columns or document.
public enum RecordFilter: Sendable {
    case equals(String, SQLValue)
    case isNull(String)
    /// Any of the columns equals the value.
    case anyEquals([String], SQLValue)
    case oneOf(String, [SQLValue])
    case atLeast(String, SQLValue)
    case atMost(String, SQLValue)
    /// Substring match, ignoring case, on columns that hold lowercased text (`search_text`).
    case contains([String], String)
}

public struct RecordOrder: Sendable {
    public var sql: String

    public static let newestFirst = RecordOrder(sql: "created_at DESC, id DESC")
    public static let oldestFirst = RecordOrder(sql: "created_at ASC, id ASC")
    public static func custom(_ sql: String) -> RecordOrder { RecordOrder(sql: sql) }
}

public struct Organization: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var createdAt: Date

    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}

/// An API key as stored: its SHA-256 and a short prefix to recognise it, never the key.
public struct APIKeyRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var name: String
    public var prefix: String
    public var hash: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: String, organizationID: String, name: String, prefix: String, hash: String, createdAt: Date,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.prefix = prefix
        self.hash = hash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// A one-time machine registration token.
public struct RegistrationTokenRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var hash: String
    public var poolNames: [String]
    public var expiresAt: Date
    public var usedAt: Date?
    /// When an operator revoked it unused (a revoked token joins nothing).
    public var revokedAt: Date?
    public var createdAt: Date

    public init(
        id: String, organizationID: String, hash: String, poolNames: [String], expiresAt: Date, usedAt: Date? = nil,
        revokedAt: Date? = nil, createdAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.hash = hash
        self.poolNames = poolNames
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
        self.createdAt = createdAt
    }
}

/// A session: a machine reserved for a sequence of runs.
public struct SessionRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    /// Set when the first run of the session is dispatched.
    public var machineID: String?
    public var isOpen: Bool
    public var createdAt: Date

    public init(id: String, organizationID: String, machineID: String?, isOpen: Bool, createdAt: Date) {
        self.id = id
        self.organizationID = organizationID
        self.machineID = machineID
        self.isOpen = isOpen
        self.createdAt = createdAt
    }
}

/// One encrypted secret. `id` is the alias shown to API callers.
public struct VaultSecret: Sendable, Hashable {
    public enum OwnerKind: String, Sendable {
        case run, machine, pool
        /// A model configuration's own API key (`name` is `api_key`).
        case modelConfiguration = "model_configuration"
        /// An organization's provider credential (`name` is `api_key`).
        case providerCredential = "provider_credential"
    }

    public var id: String
    public var organizationID: String
    public var ownerKind: OwnerKind
    public var ownerID: String
    /// Dotted path for nested values: `{"db": {"password": ...}}` is `db.password`.
    public var name: String
    public var sealed: [UInt8]
    public var createdAt: Date

    public init(
        id: String, organizationID: String, ownerKind: OwnerKind, ownerID: String, name: String, sealed: [UInt8],
        createdAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.ownerKind = ownerKind
        self.ownerID = ownerID
        self.name = name
        self.sealed = sealed
        self.createdAt = createdAt
    }
}

/// A write request seen with an `Idempotency-Key`, and once finished its response.
public struct IdempotencyEntry: Sendable, Hashable {
    public var organizationID: String
    public var key: String
    public var method: String
    public var path: String
    public var isComplete: Bool
    public var status: Int
    public var body: [UInt8]
    public var createdAt: Date

    public init(
        organizationID: String, key: String, method: String, path: String, isComplete: Bool = false,
        status: Int = 0, body: [UInt8] = [], createdAt: Date
    ) {
        self.organizationID = organizationID
        self.key = key
        self.method = method
        self.path = path
        self.isComplete = isComplete
        self.status = status
        self.body = body
        self.createdAt = createdAt
    }
}
