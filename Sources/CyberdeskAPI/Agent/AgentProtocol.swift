// The machine ↔ server protocol (`AGENT-PROTOCOL.md`, final shapes in docs/AGENT-PROTOCOL.md
// of this repository): plain JSON over HTTP/1.1 under `/v1/agent/`, long-poll for wake-ups.

/// A screen size in pixels.
public struct DisplaySize: Codable, Sendable, Hashable {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// `POST /v1/agent/register`, authorized by an organization API key or a one-time
/// registration token. The same organization and fingerprint always give the same machine.
public struct AgentRegisterRequest: Codable, Sendable {
    public var fingerprint: String
    public var name: String?
    public var hostname: String?
    public var osInfo: String?
    public var version: String?
    public var display: DisplaySize?
    public var pools: [String]?

    public init(
        fingerprint: String, name: String?, hostname: String?, osInfo: String?, version: String?,
        display: DisplaySize?, pools: [String]?
    ) {
        self.fingerprint = fingerprint
        self.name = name
        self.hostname = hostname
        self.osInfo = osInfo
        self.version = version
        self.display = display
        self.pools = pools
    }

    enum CodingKeys: String, CodingKey {
        case fingerprint, name, hostname, version, display, pools
        case osInfo = "os_info"
    }
}

public struct AgentRegisterResponse: Codable, Sendable {
    public var machineID: String
    /// The machine credential: shown once, stored 0600 by the agent, kept hashed by the server.
    public var machineToken: String

    public init(machineID: String, machineToken: String) {
        self.machineID = machineID
        self.machineToken = machineToken
    }

    enum CodingKeys: String, CodingKey {
        case machineID = "machine_id"
        case machineToken = "machine_token"
    }
}

/// A run the agent held when it stopped, reported at its next connect.
public struct HeldRun: Codable, Sendable, Hashable {
    public var runID: String
    public var leaseToken: String
    public var stepIndex: Int?

    public init(runID: String, leaseToken: String, stepIndex: Int?) {
        self.runID = runID
        self.leaseToken = leaseToken
        self.stepIndex = stepIndex
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case leaseToken = "lease_token"
        case stepIndex = "step_index"
    }
}

/// `POST /v1/agent/connect`.
public struct AgentConnectRequest: Codable, Sendable {
    public var version: String?
    public var hostname: String?
    public var display: DisplaySize?
    /// A run a previous agent process held when it stopped (from the state dir): the
    /// server ends it as `error` ("agent restarted during step N") or requeues it if it
    /// had not started.
    public var heldRun: HeldRun?
    /// The run this agent process is executing right now, when it reconnects after a
    /// network error: its lease moves to the new connection instead of being interrupted.
    public var activeRun: HeldRun?

    public init(
        version: String?, hostname: String?, display: DisplaySize?, heldRun: HeldRun? = nil, activeRun: HeldRun? = nil
    ) {
        self.version = version
        self.hostname = hostname
        self.display = display
        self.heldRun = heldRun
        self.activeRun = activeRun
    }

    enum CodingKeys: String, CodingKey {
        case version, hostname, display
        case heldRun = "held_run"
        case activeRun = "active_run"
    }
}

public struct AgentConnectResponse: Codable, Sendable {
    public var connectionID: String
    public var machineID: String
    public var pollWaitSeconds: Int
    public var leaseSeconds: Int
    public var heartbeatSeconds: Int

    public init(connectionID: String, machineID: String, pollWaitSeconds: Int, leaseSeconds: Int, heartbeatSeconds: Int)
    {
        self.connectionID = connectionID
        self.machineID = machineID
        self.pollWaitSeconds = pollWaitSeconds
        self.leaseSeconds = leaseSeconds
        self.heartbeatSeconds = heartbeatSeconds
    }

    enum CodingKeys: String, CodingKey {
        case connectionID = "connection_id"
        case machineID = "machine_id"
        case pollWaitSeconds = "poll_wait_s"
        case leaseSeconds = "lease_s"
        case heartbeatSeconds = "heartbeat_s"
    }
}

/// One message of a poll answer.
public struct AgentMessage: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case runOffer = "run_offer"
        case cancel
        case command
        case drain
    }

    public var id: String
    public var type: Kind
    public var runID: String?
    public var attempt: Int?
    public var command: AgentCommand?

    public init(id: String, type: Kind, runID: String? = nil, attempt: Int? = nil, command: AgentCommand? = nil) {
        self.id = id
        self.type = type
        self.runID = runID
        self.attempt = attempt
        self.command = command
    }

    enum CodingKeys: String, CodingKey {
        case id, type, attempt, command
        case runID = "run_id"
    }
}

/// An ad-hoc computer action relayed from `/v1/computer/{machine_id}/...`.
public struct AgentCommand: Codable, Sendable, Hashable {
    public var commandID: String
    /// The action path: `display/screenshot`, `input/mouse/click`, `fs/read`, `shell/exec`...
    public var action: String
    public var params: JSONObject

    public init(commandID: String, action: String, params: JSONObject) {
        self.commandID = commandID
        self.action = action
        self.params = params
    }

    enum CodingKeys: String, CodingKey {
        case action, params
        case commandID = "command_id"
    }
}

/// `GET /v1/agent/poll`: 200 with messages, or 204 when `wait` seconds passed with none.
public struct AgentPollResponse: Codable, Sendable {
    public var messages: [AgentMessage]

    public init(messages: [AgentMessage]) { self.messages = messages }
}

/// A file the run imports before its first step.
public struct FileInputDescriptor: Codable, Sendable, Hashable {
    public var attachmentID: String
    public var filename: String
    public var targetPath: String?
    public var sizeBytes: Int64
    public var sha256: String
    public var cleanupImportsAfterRun: Bool

    public init(
        attachmentID: String, filename: String, targetPath: String?, sizeBytes: Int64, sha256: String,
        cleanupImportsAfterRun: Bool
    ) {
        self.attachmentID = attachmentID
        self.filename = filename
        self.targetPath = targetPath
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.cleanupImportsAfterRun = cleanupImportsAfterRun
    }

    enum CodingKeys: String, CodingKey {
        case filename, sha256
        case attachmentID = "attachment_id"
        case targetPath = "target_path"
        case sizeBytes = "size_bytes"
        case cleanupImportsAfterRun = "cleanup_imports_after_run"
    }
}

/// Everything a machine needs to execute a run, except secret values.
public struct RunAssignment: Codable, Sendable, Hashable {
    public var runID: String
    public var attempt: Int
    public var workflowID: String
    public var workflowName: String?
    public var mainPrompt: String
    public var includesFileExports: Bool
    public var terminalCommandAllowlist: [String]?
    /// The trajectory's steps (`STEPS.md`); empty when the workflow has none.
    public var steps: [JSONValue]
    public var trajectoryID: String?
    /// The screen size the trajectory was recorded at.
    public var dimensions: DisplaySize?
    /// Run > machine > pool parameters, `$ref`s resolved.
    public var inputValues: JSONObject
    /// Names a `{$name}` may fetch; never values.
    public var sensitiveNames: [String]
    public var fileInputs: [FileInputDescriptor]
    public var sessionID: String?
    /// Present when a model performs the run (no approved trajectory): the agent asks the
    /// server for its steps (`POST /v1/agent/runs/{id}/plan`) instead of reading `steps`.
    public var planner: PlannerAssignment?
    /// Present on a replay whose run has a model: when a checkpoint does not match, the rest of
    /// the task goes to that model (`plan` with `handover`).
    public var fallback: PlannerAssignment?
    /// Present on a replay whose run has a `cache_detection_model_id`: when a checkpoint does
    /// not match, that model is asked first whether the screen still shows the recorded state
    /// (`same-screen`); the screenshots it sees are fitted to this assignment's long side.
    public var cacheDetection: PlannerAssignment?

    public init(
        runID: String, attempt: Int, workflowID: String, workflowName: String?, mainPrompt: String,
        includesFileExports: Bool, terminalCommandAllowlist: [String]?, steps: [JSONValue], trajectoryID: String?,
        dimensions: DisplaySize?, inputValues: JSONObject, sensitiveNames: [String], fileInputs: [FileInputDescriptor],
        sessionID: String?, planner: PlannerAssignment? = nil, fallback: PlannerAssignment? = nil
    ) {
        self.planner = planner
        self.fallback = fallback
        self.runID = runID
        self.attempt = attempt
        self.workflowID = workflowID
        self.workflowName = workflowName
        self.mainPrompt = mainPrompt
        self.includesFileExports = includesFileExports
        self.terminalCommandAllowlist = terminalCommandAllowlist
        self.steps = steps
        self.trajectoryID = trajectoryID
        self.dimensions = dimensions
        self.inputValues = inputValues
        self.sensitiveNames = sensitiveNames
        self.fileInputs = fileInputs
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case attempt, steps, dimensions, planner, fallback
        case cacheDetection = "cache_detection"
        case runID = "run_id"
        case workflowID = "workflow_id"
        case workflowName = "workflow_name"
        case mainPrompt = "main_prompt"
        case includesFileExports = "includes_file_exports"
        case terminalCommandAllowlist = "terminal_command_allowlist"
        case trajectoryID = "trajectory_id"
        case inputValues = "input_values"
        case sensitiveNames = "sensitive_names"
        case fileInputs = "file_inputs"
        case sessionID = "session_id"
    }
}

/// `POST /v1/agent/runs/{id}/claim`.
public struct RunClaimResponse: Codable, Sendable {
    public var leaseToken: String
    public var leaseSeconds: Int
    public var run: RunAssignment

    public init(leaseToken: String, leaseSeconds: Int, run: RunAssignment) {
        self.leaseToken = leaseToken
        self.leaseSeconds = leaseSeconds
        self.run = run
    }

    enum CodingKeys: String, CodingKey {
        case run
        case leaseToken = "lease_token"
        case leaseSeconds = "lease_s"
    }
}

/// The body of start, secrets and other lease-checked calls.
public struct LeaseRequest: Codable, Sendable {
    public var leaseToken: String
    public var stepIndex: Int?

    public init(leaseToken: String, stepIndex: Int? = nil) {
        self.leaseToken = leaseToken
        self.stepIndex = stepIndex
    }

    enum CodingKeys: String, CodingKey {
        case leaseToken = "lease_token"
        case stepIndex = "step_index"
    }
}

/// `POST /v1/agent/runs/{id}/heartbeat` answer.
public struct HeartbeatResponse: Codable, Sendable {
    public var cancelRequested: Bool
    public var leaseSeconds: Int
    /// True when the request's `events` were recorded. A server older than the field
    /// ignores `events` and omits it: the agent then posts them to `/events`.
    public var eventsRecorded: Bool?

    public init(cancelRequested: Bool, leaseSeconds: Int, eventsRecorded: Bool? = nil) {
        self.cancelRequested = cancelRequested
        self.leaseSeconds = leaseSeconds
        self.eventsRecorded = eventsRecorded
    }

    enum CodingKeys: String, CodingKey {
        case cancelRequested = "cancel_requested"
        case leaseSeconds = "lease_s"
        case eventsRecorded = "events_recorded"
    }
}

/// `POST /v1/agent/runs/{id}/secrets/{name}` answer: the value, for one `type` action.
public struct SecretResponse: Codable, Sendable {
    public var value: JSONValue

    public init(value: JSONValue) { self.value = value }
}

/// `POST /v1/agent/runs/{id}/events`: entries appended to the run's message history.
/// `POST /v1/agent/runs/{id}/heartbeat` body: renews the lease, records the step the run is
/// at and, at a step's start, the history events of the steps before it, in one call (one
/// transaction on the server instead of a heartbeat and an events post per step).
public struct HeartbeatRequest: Codable, Sendable {
    public var leaseToken: String
    public var stepIndex: Int?
    public var events: [JSONObject]?

    public init(leaseToken: String, stepIndex: Int? = nil, events: [JSONObject]? = nil) {
        self.leaseToken = leaseToken
        self.stepIndex = stepIndex
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case events
        case leaseToken = "lease_token"
        case stepIndex = "step_index"
    }
}

public struct RunEventsRequest: Codable, Sendable {
    public var leaseToken: String
    public var events: [JSONObject]

    public init(leaseToken: String, events: [JSONObject]) {
        self.leaseToken = leaseToken
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case events
        case leaseToken = "lease_token"
    }
}

/// `POST /v1/agent/runs/{id}/complete`; idempotent per run attempt.
public struct RunCompleteRequest: Codable, Sendable {
    public var leaseToken: String
    public var status: RunStatus
    public var outputData: JSONObject?
    public var error: [String]?

    public init(leaseToken: String, status: RunStatus, outputData: JSONObject?, error: [String]?) {
        self.leaseToken = leaseToken
        self.status = status
        self.outputData = outputData
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case status, error
        case leaseToken = "lease_token"
        case outputData = "output_data"
    }
}

/// Answers of upload endpoints (`images`, `attachments`).
public struct UploadResponse: Codable, Sendable {
    public var id: String
    public var sha256: String
    public var sizeBytes: Int64

    public init(id: String, sha256: String, sizeBytes: Int64) {
        self.id = id
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
    }

    enum CodingKeys: String, CodingKey {
        case id, sha256
        case sizeBytes = "size_bytes"
    }
}
