/// Why a step (or the preparation of a run) stopped the run; the message never contains a
/// secret value.
enum StepFailure: Error, Sendable, Equatable {
    /// The task cannot be done as recorded: a `fail` step, a command exiting non-zero, a
    /// missing file, a path outside the allowed folders. Ends the run as `task_failed`.
    case taskFailed(String)
    /// The machine could not act: X errors, a display gone, uploads or the server failing.
    /// Ends the run as `error`.
    case error(String)
    /// The surrounding task was cancelled.
    case cancelled

    /// Classifies any error thrown while a step runs.
    static func from(_ error: any Error) -> StepFailure {
        if let failure = error as? StepFailure { return failure }
        if error is CancellationError || Task.isCancelled { return .cancelled }
        if let problem = error as? FileProblem {
            return problem.isTaskProblem ? .taskFailed(problem.description) : .error(problem.description)
        }
        return .error(String(describing: error))
    }

    var message: String {
        switch self {
        case .taskFailed(let message), .error(let message): message
        case .cancelled: "cancelled"
        }
    }
}
