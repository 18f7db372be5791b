/// The life of a run. The last four are terminal: a terminal run never changes again
/// except through `POST /v1/runs/{id}/retry`, which starts a new attempt.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case scheduling
    case running
    case runningChecks = "running_checks"
    case success
    case taskFailed = "task_failed"
    case error
    case cancelled

    public var isTerminal: Bool {
        switch self {
        case .success, .taskFailed, .error, .cancelled: true
        case .scheduling, .running, .runningChecks: false
        }
    }
}

/// `MachineStatus` and `ConnectionStatus` share these values.
public enum MachineStatus: String, Codable, Sendable, CaseIterable {
    case connected
    case disconnected
    case error
}

public typealias ConnectionStatus = MachineStatus

public enum AttachmentType: String, Codable, Sendable, CaseIterable {
    case input
    case output
}
