/// Why a trajectory was rejected on create or update (the server answers 400 with
/// ``description``).
///
/// Step problems name the zero-based step index and the `func_name` as written, so the
/// message points at the exact step to fix: `step 3 (click): missing required argument 'y'`.
public enum TrajectoryValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    case noSteps
    case tooManySteps(count: Int)
    /// `funcName` is nil when the step has no usable `func_name`.
    case invalidStep(index: Int, funcName: String?, problem: StepProblem)
    case invalidCheckpoint(index: Int, funcName: String?, problem: CheckpointProblem)

    /// The index of the offending step, when the problem is in one step.
    public var stepIndex: Int? {
        switch self {
        case .invalidStep(let index, _, _), .invalidCheckpoint(let index, _, _): return index
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .noSteps:
            return "a trajectory needs at least one step"
        case .tooManySteps(let count):
            return "a trajectory may have at most \(Trajectory.maxSteps) steps; this one has \(count)"
        case .invalidStep(let index, let funcName?, let problem):
            return "step \(index) (\(funcName)): \(problem)"
        case .invalidStep(let index, nil, let problem):
            return "step \(index): \(problem)"
        case .invalidCheckpoint(let index, let funcName, let problem):
            return "step \(index)" + (funcName.map { " (\($0))" } ?? "") + ": \(problem)"
        }
    }
}
