import CyberdeskAPI

/// How a run ended: what the agent reports with `complete`.
public struct RunOutcome: Sendable, Hashable {
    /// `success`, `taskFailed`, `error` or `cancelled`.
    public var status: RunStatus
    /// Values stored by `copy_to_clipboard`, `execute_terminal_command` (with `output_key`),
    /// `read_file` and `set_output`; kept when the run fails.
    public var outputData: JSONObject
    /// Empty on success. Each names the step (`step 3 (click): ...`) when a step failed. Never
    /// contains a secret value.
    public var errors: [String]

    public init(status: RunStatus, outputData: JSONObject, errors: [String]) {
        self.status = status
        self.outputData = outputData
        self.errors = errors
    }
}
