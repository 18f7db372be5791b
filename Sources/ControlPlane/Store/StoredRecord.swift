import CyberdeskAPI
import Planner
import FoundationEssentials

/// A resource kept as a JSON document plus the columns that queries filter and sort on.
/// Every write goes through the whole record, so the columns and the document never
/// disagree.
public protocol StoredRecord: Codable, Sendable {
    static var table: String { get }
    var id: String { get }
    var organizationID: String { get }
    /// Columns besides `id`, `organization_id` and `doc`, in the order of the table's schema.
    var columns: [(String, SQLValue)] { get }
    /// Text columns that hold a top-level field of the document as it is (its name and
    /// value), besides `id`: `listFields` reads them instead of the document.
    static var fieldColumns: Set<String> { get }
}

extension StoredRecord {
    public static var fieldColumns: Set<String> { [] }
}

/// The text `?search=` looks in: the given parts, lowercased, one per line.
func searchText(_ parts: [String?]) -> SQLValue {
    .text(parts.compactMap { $0?.lowercased() }.joined(separator: "\n"))
}

/// The string values of a JSON object (not its keys), for search.
func searchValues(_ object: JSONObject?) -> [String] {
    func strings(_ value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .int, .double, .bool: [value.templateText]
        case .array(let items): items.flatMap(strings)
        case .object(let members): members.values.flatMap(strings)
        case .null: []
        }
    }
    return (object ?? [:]).values.flatMap(strings)
}

extension Workflow: StoredRecord {
    public static let table = "workflows"
    public var columns: [(String, SQLValue)] {
        [
            ("name", .optional(name)), ("created_at", .date(createdAt)), ("updated_at", .date(updatedAt)),
            ("search_text", searchText([name, mainPrompt])),
        ]
    }
}

extension TrajectoryRecord: StoredRecord {
    public static let table = "trajectories"
    public var columns: [(String, SQLValue)] {
        [
            ("workflow_id", .text(workflowID)), ("run_id", .optional(runID)), ("name", .optional(name)),
            ("is_approved", .bool(isApproved)), ("is_generated", .bool(isGenerated)), ("is_main", .bool(isMain)),
            ("created_at", .date(createdAt)), ("updated_at", .date(updatedAt)),
            ("search_text", searchText([name, description])),
        ]
    }
}

extension Machine: StoredRecord {
    public static let table = "machines"
    public var columns: [(String, SQLValue)] {
        [
            ("fingerprint", .text(fingerprint)), ("name", .optional(name)), ("status", .text(status.rawValue)),
            ("is_available", .bool(isAvailable)), ("reserved_session_id", .optional(reservedSessionID)),
            ("last_seen", .date(lastSeen)), ("created_at", .date(createdAt)),
            ("search_text", searchText([name, hostname, fingerprint, osInfo, version])),
            ("hostname", .optional(hostname)),
        ]
    }

    /// What machine pickers show (`GET /v1/machines?fields=name,hostname,status`).
    public static var fieldColumns: Set<String> { ["name", "hostname", "status"] }
}

extension Pool: StoredRecord {
    public static let table = "pools"
    public var columns: [(String, SQLValue)] {
        [
            ("name", .text(name)), ("created_at", .date(createdAt)), ("updated_at", .date(updatedAt)),
            ("search_text", searchText([name, description])),
        ]
    }
}

extension Connection: StoredRecord {
    public static let table = "connections"
    public var columns: [(String, SQLValue)] {
        [
            ("machine_id", .text(machineID)), ("status", .text(status.rawValue)), ("connected_at", .date(connectedAt)),
            ("created_at", .date(connectedAt)),
        ]
    }
}

extension RunAttachment: StoredRecord {
    public static let table = "run_attachments"
    public var columns: [(String, SQLValue)] {
        [
            ("run_id", .text(runID)), ("attachment_type", .text(attachmentType.rawValue)), ("sha256", .text(sha256)),
            ("size_bytes", .int(sizeBytes)), ("created_at", .date(createdAt)),
        ]
    }
}

extension ModelConfigurationRecord: StoredRecord {
    public static let table = "model_configurations"
    public var columns: [(String, SQLValue)] {
        [
            ("name", .text(name)), ("provider", .text(provider)), ("is_system_default", .bool(isSystemDefault)),
            ("is_archived", .bool(isArchived)), ("created_at", .date(createdAt)), ("updated_at", .date(updatedAt)),
        ]
    }
}

extension ProviderCredentialRecord: StoredRecord {
    public static let table = "provider_credentials"
    public var columns: [(String, SQLValue)] {
        [("slot", .text(slot)), ("created_at", .date(createdAt)), ("updated_at", .date(updatedAt))]
    }
}

extension PromptImageRecord: StoredRecord {
    public static let table = "prompt_images"
    public var columns: [(String, SQLValue)] {
        [
            ("path", .text(path)), ("sha256", .text(sha256)), ("size_bytes", .int(sizeBytes)),
            ("created_at", .date(createdAt)),
        ]
    }
}

/// A run as the store keeps it: the public resource plus what only the server needs.
public struct StoredRun: StoredRecord, Hashable {
    public static let table = "runs"
    public var run: Run
    /// The machine the caller asked for (`machine_id` on create); the run waits for it.
    public var pinnedMachineID: String?
    /// The machine the scheduler gave the run to.
    public var assignedMachineID: String?
    /// 1 for the first attempt; `retry` adds one.
    public var attempt: Int
    /// Creation order (microseconds, strictly increasing within a process), used for
    /// first-come-first-served and for the order of a session's runs.
    public var sequence: Int64
    /// Position in its chain (1-based), for `$ref: stepN.outputs.key`.
    public var chainIndex: Int?
    /// When the run was offered to its assigned machine (the offer lapses after 20 s).
    public var offeredAt: Date?
    /// The claim's lease: its token (a fencing token: calls with another token are
    /// refused), its expiry on the server's clock, and the connection that holds it.
    public var leaseToken: String?
    public var leaseExpiresAt: Date?
    public var connectionID: String?
    /// The step the machine reported last (heartbeats), for "machine lost during step N".
    public var stepIndex: Int?
    /// Run images (screenshots) by id: SHA-256 of the PNG in the blob store.
    public var images: [String: String]?
    /// The model's conversation and the trajectory so far, while a model performs the run
    /// (PLANNER.md); reset by each new attempt's claim.
    public var planner: PlannerState?
    /// What the cache detection model said of this attempt's checkpoints that did not match,
    /// and what asking it cost; reset by each new attempt's claim.
    public var sameScreen: SameScreenChecks?

    public init(
        run: Run, pinnedMachineID: String?, assignedMachineID: String? = nil, attempt: Int = 1, sequence: Int64,
        chainIndex: Int? = nil
    ) {
        self.run = run
        self.pinnedMachineID = pinnedMachineID
        self.assignedMachineID = assignedMachineID
        self.attempt = attempt
        self.sequence = sequence
        self.chainIndex = chainIndex
    }

    public var id: String { run.id }
    public var organizationID: String { run.organizationID }

    /// Set while the run occupies its machine: from dispatch until it ends. A unique index
    /// on this column makes "one active run per machine" a constraint, not a convention.
    public var holdsMachine: String? { run.status.isTerminal ? nil : assignedMachineID }

    public var columns: [(String, SQLValue)] {
        [
            ("workflow_id", .text(run.workflowID)), ("status", .text(run.status.rawValue)),
            ("pinned_machine_id", .optional(pinnedMachineID)), ("assigned_machine_id", .optional(assignedMachineID)),
            ("holds_machine", .optional(holdsMachine)), ("session_id", .optional(run.sessionID)),
            ("is_priority", .bool(run.isPriority)), ("sequence", .int(sequence)),
            ("created_at", .date(run.createdAt)), ("offered_at", .optional(offeredAt)),
            ("lease_expires_at", .optional(leaseExpiresAt)),
            (
                "search_text",
                searchText([run.id, run.sessionAlias] + searchValues(run.inputValues) + searchValues(run.outputData))
            ),
        ]
    }

    enum CodingKeys: String, CodingKey {
        case run
        case pinnedMachineID = "pinned_machine_id"
        case assignedMachineID = "assigned_machine_id"
        case attempt, sequence
        case chainIndex = "chain_index"
        case offeredAt = "offered_at"
        case leaseToken = "lease_token"
        case leaseExpiresAt = "lease_expires_at"
        case connectionID = "connection_id"
        case stepIndex = "step_index"
        case images, planner
        case sameScreen = "same_screen"
    }
}

/// The cache detection model's answers in one attempt of a replayed run (`same-screen`).
public struct SameScreenChecks: Codable, Sendable, Hashable {
    /// By step index: a retried call gets the answer already given, and its events are not
    /// recorded twice.
    public var answers: [Int: SameScreenResponse] = [:]
    /// Calls and tokens, by model configuration, for the run's `usage_metadata`.
    public var usage: [String: ModelUsage] = [:]

    public init() {}
}
