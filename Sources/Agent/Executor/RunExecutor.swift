import CyberdeskAPI
import Desktop
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Executes a run's trajectory on the desktop (`STEPS.md`): imports file inputs, runs each
/// step with templates applied and coordinates scaled to the screen, records one history
/// event per step, exports files, and reports how the run ended.
///
/// Failure semantics: the first failing step ends the run, as `task_failed` when the task
/// cannot be done (a `fail` step, a command exiting non-zero, a missing file, a refused path)
/// or `error` when the machine could not act (X errors, a display gone, the server failing);
/// a final screenshot is then uploaded and referenced in the history. Cancelling the calling
/// task stops the run within a second (waits, typing and commands are interruptible) with
/// status `cancelled`. Whatever the end, held keys and buttons are released and imports
/// marked for cleanup are deleted.
///
/// Secret values (`{$name}`) exist only inside the `type` action that types them; history,
/// logs, errors and `output_data` show the placeholder.
public struct RunExecutor: Sendable {
    public let desktop: any Desktop
    public let environment: any RunEnvironment
    public let configuration: ExecutorConfiguration
    private let logger: Logger

    public init(
        desktop: any Desktop, environment: any RunEnvironment, configuration: ExecutorConfiguration, logger: Logger
    ) {
        self.desktop = desktop
        self.environment = environment
        self.configuration = configuration
        self.logger = logger
    }

    /// Executes `run` to its end; never throws (every failure is in the outcome).
    ///
    /// - Parameter shouldStop: asked before each step; when it returns true (the daemon is
    ///   shutting down gracefully) the run ends there as `error`, the step it would have run
    ///   named in the message, and the end-of-run work (release, exports, cleanup) still runs.
    public func execute(_ run: RunAssignment, shouldStop: () -> Bool = { false }) async -> RunOutcome {
        var logger = self.logger
        logger[metadataKey: "run.id"] = "\(run.runID)"
        logger.info("run started", metadata: ["run.steps": "\(run.steps.count)", "run.attempt": "\(run.attempt)"])
        var session = RunSession(
            run: run, desktop: desktop, environment: environment, configuration: configuration, logger: logger)
        let end = await executeSteps(&session, shouldStop: shouldStop)
        return await finish(&session, end)
    }

    /// How the steps ended, before the end-of-run work.
    struct RunEnd {
        var status: RunStatus
        var errors: [String]
        var failedStep: Int?

        static let success = RunEnd(status: .success, errors: [])

        init(status: RunStatus, errors: [String], failedStep: Int? = nil) {
            self.status = status
            self.errors = errors
            self.failedStep = failedStep
        }

        init(_ failure: StepFailure, message: String, step: Int? = nil) {
            switch failure {
            case .taskFailed: self.init(status: .taskFailed, errors: [message], failedStep: step)
            case .error: self.init(status: .error, errors: [message], failedStep: step)
            case .cancelled: self.init(status: .cancelled, errors: [message], failedStep: step)
            }
        }
    }

    private func executeSteps(_ session: inout RunSession, shouldStop: () -> Bool) async -> RunEnd {
        var steps: [Step] = []
        if session.run.planner == nil {
            do {
                steps = try Trajectory.validate(session.run.steps)
            } catch .noSteps {
                return RunEnd(
                    status: .error,
                    errors: [
                        "the workflow has no approved trajectory and no model to perform its prompt: approve a "
                            + "trajectory, or set model_metadata.main_agent_model_id on the workflow (or "
                            + "main_agent_model_id on the run)"
                    ])
            } catch {
                return RunEnd(status: .error, errors: ["invalid trajectory: \(error)"], failedStep: error.stepIndex)
            }
        }

        do {
            try FileSystem.createDirectories(configuration.transfersDirectory, mode: 0o700)
        } catch {
            // Steps that need the folder fail with their own message; the rest can still run.
            session.logger.warning("cannot create the transfers folder", metadata: ["error": "\(error)"])
        }
        do {
            try await session.importFiles()
        } catch {
            return RunEnd(error, message: error == .cancelled ? "cancelled while importing file inputs" : error.message)
        }
        if session.run.includesFileExports { session.takeSnapshot() }

        if let planner = session.run.planner {
            return await executePlanned(&session, planner: planner, shouldStop: shouldStop)
        }
        let checkpoints: [Checkpoint?]
        do {
            checkpoints = try Trajectory.checkpoints(session.run.steps, dimensions: session.run.dimensions)
        } catch {
            return RunEnd(status: .error, errors: ["invalid trajectory: \(error)"], failedStep: error.stepIndex)
        }
        for (index, recorded) in steps.enumerated() {
            if let end = stopBefore(index, recorded, shouldStop: shouldStop) { return end }
            var step = recorded
            var check: JSONObject?
            // The step's start is reported while its checkpoint is checked: no server round trip
            // lies between looking at the screen and acting on it, and the check costs no time
            // of its own when it matches at once.
            let (found, reportFailure) = await startingStep(&session, index: index) { session -> CheckpointOutcome? in
                guard let checkpoint = checkpoints[index] else { return nil }
                return await waitForCheckpoint(&session, checkpoint, index: index, step: recorded)
            }
            if let failure = reportFailure {
                return RunEnd(failure, message: Self.startFailure(failure, index: index, step: step), step: index)
            }
            if let checkpoint = checkpoints[index], let found {
                switch found {
                case .matched(let dx, let dy, let found):
                    step = step.shifted(dx: dx, dy: dy)
                    check = found
                case .failed(let failure):
                    let message =
                        failure == .cancelled
                        ? "cancelled before step \(index) (\(step.funcName))"
                        : "checking the checkpoint of step \(index) (\(step.funcName)): \(failure.message)"
                    return RunEnd(failure, message: message, step: index)
                case .timedOut:
                    // The cache detection model may say the screen is in the recorded state after
                    // all (a changed label, a clock): the step then acts where it was recorded.
                    if let model = session.run.cacheDetection,
                        await screenIsTheSame(&session, checkpoint, index: index, step: step, model: model)
                    {
                        check = ["matched": false, "same_screen": true]
                        break
                    }
                    if Task.isCancelled {
                        return RunEnd(.cancelled, message: "cancelled before step \(index) (\(step.funcName))", step: index)
                    }
                    // Nothing acts on a screen that failed its check: the model takes over when
                    // the run has one, from this step on.
                    if let fallback = session.run.fallback {
                        session.logger.info(
                            "checkpoint did not match; the model takes over", metadata: ["step.index": "\(index)"])
                        return await executePlanned(
                            &session, planner: fallback, startIndex: index,
                            handover: PlanHandover(stepIndex: index, funcName: step.funcName), shouldStop: shouldStop)
                    }
                    return RunEnd(
                        status: .taskFailed, errors: ["checkpoint of step \(index) (\(step.funcName)) did not match"],
                        failedStep: index)
                }
            }
            let outcome = await executeStep(
                &session, index: index, step: step, raw: session.run.steps[index], check: check, reported: true)
            if let failure = outcome.failure { return RunEnd(failure, message: outcome.message, step: index) }
        }
        return .success
    }

    /// Why the run must end before step `index`, if it must.
    func stopBefore(_ index: Int, _ step: Step, shouldStop: () -> Bool) -> RunEnd? {
        if Task.isCancelled {
            return RunEnd(.cancelled, message: "cancelled before step \(index) (\(step.funcName))", step: index)
        }
        if shouldStop() {
            return RunEnd(
                status: .error,
                errors: ["the agent stopped before step \(index) (\(step.funcName)); the run did not finish"])
        }
        return nil
    }

    /// How one step went: its failure and the run error naming it, and its history record.
    struct StepOutcome {
        var failure: StepFailure?
        var message: String
        var record: StepRecord
    }

    /// Reports step `index` started while `body` runs (a checkpoint's check or crop). The
    /// previous step's events go out with it (one heartbeat), so a history showing step N-1
    /// means the server already knows the machine is on step N. A report that fails puts its
    /// events back and is returned as the failure.
    func startingStep<T>(
        _ session: inout RunSession, index: Int, while body: (inout RunSession) async -> T
    ) async -> (T, StepFailure?) {
        let events = session.history.takeDue()
        let environment = self.environment
        async let reported: Void = environment.stepStarted(index: index, events: events)
        let value = await body(&session)
        do {
            try await reported
            return (value, nil)
        } catch {
            session.history.restore(events)
            return (value, StepFailure.from(error))
        }
    }

    static func startFailure(_ failure: StepFailure, index: Int, step: Step) -> String {
        failure == .cancelled
            ? "cancelled before step \(index) (\(step.funcName))"
            : "recording the run history before step \(index): \(failure.message)"
    }

    /// Executes one step: reports its start (with the history so far) unless the caller did
    /// (`reported`), performs it, and records its history event. `before` runs right before the
    /// step acts, while its start is reported (checkpoint crops). `check` is what the step's
    /// checkpoint check found, kept in its history event.
    func executeStep(
        _ session: inout RunSession, index: Int, step: Step, raw: JSONValue, check: JSONObject? = nil,
        reported: Bool = false, before: (inout RunSession) async -> Void = { _ in }
    ) async -> StepOutcome {
        var logger = session.logger
        logger[metadataKey: "step.index"] = "\(index)"
        logger[metadataKey: "step.func"] = "\(step.funcName)"
        logger.debug("step started")
        var record = StepRecord(index: index)
        if reported {
            await before(&session)
        } else if let failure = await startingStep(&session, index: index, while: before).1 {
            return StepOutcome(
                failure: failure, message: Self.startFailure(failure, index: index, step: step), record: record)
        }
        let startedAt = Date()
        let started = ContinuousClock.now
        var failure: StepFailure?
        do {
            try await session.perform(step, raw: raw, record: &record)
        } catch {
            failure = StepFailure.from(error)
        }
        let elapsed = started.duration(to: .now)
        var event = Self.event(step: step, record: record, failure: failure, startedAt: startedAt, elapsed: elapsed)
        if let check { event["checkpoint"] = .object(check) }
        session.history.append(event)
        if !record.unresolved.isEmpty {
            logger.warning("runtime values used before they were set", metadata: ["names": "\(record.unresolved)"])
        }
        guard let failure else { return StepOutcome(failure: nil, message: "", record: record) }
        let message =
            failure == .cancelled
            ? "cancelled during step \(index) (\(step.funcName))"
            : "step \(index) (\(step.funcName)): \(failure.message)"
        logger.notice("step failed", metadata: ["error": "\(message)"])
        return StepOutcome(failure: failure, message: message, record: record)
    }

    private func finish(_ session: inout RunSession, _ end: RunEnd) async -> RunOutcome {
        var status = end.status
        var errors = end.errors
        do {
            try await desktop.releaseAllInputs()
        } catch {
            session.logger.warning("cannot release held keys and buttons", metadata: ["error": "\(error)"])
        }
        if status == .taskFailed || status == .error {
            await attachFinalScreenshot(&session, step: end.failedStep)
        }
        if status != .cancelled {
            let exportErrors = await session.exportChangedFiles()
            errors += exportErrors
            if !exportErrors.isEmpty, status == .success { status = .error }
        }
        for problem in session.cleanUpImports() {
            session.logger.warning("cannot delete an imported file", metadata: ["error": "\(problem)"])
            session.history.append(["type": "file_cleanup", "error": .string(problem)])
        }
        session.history.append([
            "type": "run_end", "status": .string(status.rawValue), "errors": .array(errors.map { .string($0) }),
            "at": .string(RunSession.timestamp()),
        ])
        do {
            if Task.isCancelled {
                // The last events of a cancelled run (the cancelled step, the end) still go to
                // the server: the flush runs in a task of its own that the cancellation does not
                // reach, awaited here.
                let history = session.history
                try await Task {
                    var history = history
                    try await history.flush()
                }.value
            } else {
                try await session.history.flush()
            }
        } catch {
            if status != .cancelled {
                errors.append("recording the run history: \(StepFailure.from(error).message)")
                if status == .success { status = .error }
            }
            session.logger.warning("cannot record the run history", metadata: ["error": "\(error)"])
        }
        session.logger.info("run finished", metadata: ["run.status": "\(status.rawValue)"])
        return RunOutcome(status: status, outputData: session.outputData, errors: errors)
    }

    /// Uploads a screenshot of the screen as the run failed and references it in the history.
    private func attachFinalScreenshot(_ session: inout RunSession, step: Int?) async {
        var event: JSONObject = ["type": "final_screenshot", "at": .string(RunSession.timestamp())]
        if let step { event["step_index"] = .int(Int64(step)) }
        do {
            let shot = try await desktop.screenshot(ScreenshotOptions())
            event["image_id"] = .string(try await environment.uploadImage(shot.png))
        } catch {
            event["error"] = .string("cannot take the final screenshot: \(StepFailure.from(error).message)")
            session.logger.warning("cannot take the final screenshot", metadata: ["error": "\(error)"])
        }
        session.history.append(event)
    }

    /// The history entry of one step.
    static func event(
        step: Step, record: StepRecord, failure: StepFailure?, startedAt: Date, elapsed: Duration
    ) -> JSONObject {
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var event: JSONObject = [
            "type": "step", "step_index": .int(Int64(record.index)), "func_name": .string(step.funcName),
            "args": .object(record.args), "started_at": .string(RunSession.timestamp(startedAt)),
            "ended_at": .string(RunSession.timestamp(startedAt.addingTimeInterval(milliseconds / 1000))),
            "duration_ms": .double((milliseconds * 1000).rounded() / 1000),
        ]
        switch failure {
        case nil:
            event["status"] = "success"
            event["result"] = .object(record.result)
        case .taskFailed(let message)?:
            event["status"] = "task_failed"
            event["error"] = .string(message)
            if !record.result.isEmpty { event["result"] = .object(record.result) }
        case .error(let message)?:
            event["status"] = "error"
            event["error"] = .string(message)
        case .cancelled?:
            event["status"] = "cancelled"
        }
        if !record.unresolved.isEmpty {
            event["unresolved_runtime_values"] = .array(record.unresolved.map { .string($0) })
        }
        return event
    }
}
