// Prompt-driven runs over the agent protocol (docs/AGENT-PROTOCOL.md, "Planned runs"): the
// model runs on the server; the machine shows it the screen and executes the steps it
// chose with the same executor as a replayed trajectory.

/// How the machine takes part in a run a model performs.
public struct PlannerAssignment: Codable, Sendable, Hashable {
    /// The longest side of the screenshots the model sees; the machine scales its screen to
    /// fit, aspect preserved, never upscaled (``DisplaySize/fitting(longSide:)``).
    public var screenshotLongSide: Int
    /// The model configuration's name, for the agent's log.
    public var modelName: String?

    public init(screenshotLongSide: Int, modelName: String?) {
        self.screenshotLongSide = screenshotLongSide
        self.modelName = modelName
    }

    enum CodingKeys: String, CodingKey {
        case screenshotLongSide = "screenshot_long_side"
        case modelName = "model_name"
    }
}

extension DisplaySize {
    /// This size scaled so that its longest side is at most `longSide`, aspect preserved,
    /// never upscaled. Both the machine (capturing) and the server (declaring the size to the
    /// model and mapping its coordinates back) use this one rule.
    public func fitting(longSide: Int) -> DisplaySize {
        let longest = max(width, height)
        guard longSide > 0, longest > longSide else { return self }
        let scale = Double(longSide) / Double(longest)
        return DisplaySize(
            width: max(1, Int((Double(width) * scale).rounded())),
            height: max(1, Int((Double(height) * scale).rounded())))
    }
}

/// What a planned step did, sent back with the next `plan` call.
public struct PlannedStepResult: Codable, Sendable, Hashable {
    public var stepIndex: Int
    /// `success`, `task_failed` (the step could not do its task; the model is told and may
    /// try something else) or `skipped` (an earlier step of the same answer failed).
    public var status: String
    /// The step's result as in the history (`stdout`, `exit_code`, `image_id`, …).
    public var result: JSONObject?
    public var error: String?
    /// The crop of the screen taken just before the step acted (`STEPS.md`, Checkpoints),
    /// for steps that act at a point.
    public var checkpoint: JSONObject?

    public init(
        stepIndex: Int, status: String, result: JSONObject? = nil, error: String? = nil, checkpoint: JSONObject? = nil
    ) {
        self.stepIndex = stepIndex
        self.status = status
        self.result = result
        self.error = error
        self.checkpoint = checkpoint
    }

    enum CodingKeys: String, CodingKey {
        case status, result, error, checkpoint
        case stepIndex = "step_index"
    }
}

/// `POST /v1/agent/runs/{id}/plan`: the screen as it is now, what the previous steps did,
/// and the history events not yet sent; the answer holds the next steps or the run's end.
public struct PlanRequest: Codable, Sendable {
    public var leaseToken: String
    /// 1 for the first call of the attempt, then one more per call: a retried call (its
    /// answer was lost) gets the answer already given instead of a second model turn.
    public var sequence: Int
    /// The screenshot just uploaded (`/images`), at ``imageSize``.
    public var imageID: String
    /// The machine's screen (the coordinates of the steps).
    public var screen: DisplaySize
    /// The screenshot's size (``screen`` fitted to the assignment's long side).
    public var imageSize: DisplaySize
    /// The pointer, for the model's `cursor_position`.
    public var pointer: PointerPosition?
    /// The steps of the previous answer, in order.
    public var results: [PlannedStepResult]
    /// `output_data` so far (`set_output`, `read_file`, …), checked against the workflow's
    /// `output_schema` when the model ends its turn.
    public var outputData: JSONObject
    /// History events recorded before the model's next turn, so the history stays in order.
    public var events: [JSONObject]
    /// On the first call of a replay handed to the model: the step whose checkpoint failed.
    public var handover: PlanHandover?

    public init(
        leaseToken: String, sequence: Int, imageID: String, screen: DisplaySize, imageSize: DisplaySize,
        pointer: PointerPosition?,
        results: [PlannedStepResult], outputData: JSONObject, events: [JSONObject]
    ) {
        self.leaseToken = leaseToken
        self.sequence = sequence
        self.imageID = imageID
        self.screen = screen
        self.imageSize = imageSize
        self.pointer = pointer
        self.results = results
        self.outputData = outputData
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case sequence, screen, pointer, results, events, handover
        case leaseToken = "lease_token"
        case imageID = "image_id"
        case imageSize = "image_size"
        case outputData = "output_data"
    }
}

/// How a planned run ends, decided by the server (the model ended its turn, called `fail`
/// through a step, or hit a limit).
public struct PlanEnd: Codable, Sendable, Hashable {
    public var status: RunStatus
    public var errors: [String]

    public init(status: RunStatus, errors: [String]) {
        self.status = status
        self.errors = errors
    }
}

public struct PlanResponse: Codable, Sendable, Hashable {
    /// Steps in the trajectory vocabulary (`STEPS.md`), in screen coordinates.
    public var steps: [JSONValue]
    /// Set when the run is over; ``steps`` is then empty.
    public var end: PlanEnd?

    public init(steps: [JSONValue], end: PlanEnd?) {
        self.steps = steps
        self.end = end
    }
}

/// A point on the machine's screen, in pixels.
public struct PointerPosition: Codable, Sendable, Hashable {
    public var x: Int
    public var y: Int

    public init(x: Int, y: Int) {
        self.x = x
        self.y = y
    }
}

/// A replay handed to the model: the steps before `stepIndex` were replayed; the checkpoint of
/// step `stepIndex` (`funcName`) did not match, so it did not act.
public struct PlanHandover: Codable, Sendable, Hashable {
    public var stepIndex: Int
    public var funcName: String

    public init(stepIndex: Int, funcName: String) {
        self.stepIndex = stepIndex
        self.funcName = funcName
    }

    enum CodingKeys: String, CodingKey {
        case stepIndex = "step_index"
        case funcName = "func_name"
    }
}

/// `POST /v1/agent/runs/{id}/same-screen`: a replayed step's checkpoint did not match, and the
/// run has a `cache_detection_model_id` (PLANNER.md, Checkpoints and fallback). The server asks
/// that model whether the screen still shows the state the step was recorded in; when it says
/// so, the step acts where it was recorded and the replay goes on.
public struct SameScreenRequest: Codable, Sendable {
    public var leaseToken: String
    /// The step whose checkpoint did not match, and its `func_name`.
    public var stepIndex: Int
    public var funcName: String
    /// Run images (`/images`): the checkpoint's crop as recorded, the same region now at the
    /// crop's size, and the whole screen now at ``imageSize`` (fitted to the assignment's long
    /// side).
    public var recordedImageID: String
    public var regionImageID: String
    public var screenImageID: String
    public var imageSize: DisplaySize
    /// History events recorded before the question, so the history stays in order.
    public var events: [JSONObject]

    public init(
        leaseToken: String, stepIndex: Int, funcName: String, recordedImageID: String, regionImageID: String,
        screenImageID: String, imageSize: DisplaySize, events: [JSONObject]
    ) {
        self.leaseToken = leaseToken
        self.stepIndex = stepIndex
        self.funcName = funcName
        self.recordedImageID = recordedImageID
        self.regionImageID = regionImageID
        self.screenImageID = screenImageID
        self.imageSize = imageSize
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case events
        case leaseToken = "lease_token"
        case stepIndex = "step_index"
        case funcName = "func_name"
        case recordedImageID = "recorded_image_id"
        case regionImageID = "region_image_id"
        case screenImageID = "screen_image_id"
        case imageSize = "image_size"
    }
}

public struct SameScreenResponse: Codable, Sendable, Hashable {
    /// True only when the model said the screen shows the recorded state. A model that could
    /// not be asked, or answered anything else, counts as "not the same": nothing acts blind.
    public var same: Bool
    public var reason: String

    public init(same: Bool, reason: String) {
        self.same = same
        self.reason = reason
    }
}
