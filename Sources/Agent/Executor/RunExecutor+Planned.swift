import CyberdeskAPI
import Desktop

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs a model performs (`RunAssignment.planner`, PLANNER.md). The model runs on the server;
/// the machine shows it the screen and executes the steps it chose exactly as replayed steps
/// (templates, secrets at type-time, confinement, history, cancel), one answer at a time:
/// screenshot → `plan` → steps → screenshot → … until the server says how the run ends.
extension RunExecutor {
    /// - Parameters:
    ///   - startIndex: the first step index (after a replay's steps, on a handover).
    ///   - handover: sent with the first call when a replay hands the rest of the task over.
    func executePlanned(
        _ session: inout RunSession, planner: PlannerAssignment, startIndex: Int = 0, handover: PlanHandover? = nil,
        shouldStop: () -> Bool
    ) async -> RunEnd {
        session.modelDriven = true
        var results: [PlannedStepResult] = []
        var index = startIndex
        var sequence = 0
        // A `type` right after a click gets a checkpoint at the clicked point.
        var lastClick: Point?
        session.logger.info("the model performs the run", metadata: ["model": "\(planner.modelName ?? "?")"])
        while true {
            if Task.isCancelled {
                return RunEnd(.cancelled, message: "cancelled while the model was choosing step \(index)", step: index)
            }
            if shouldStop() {
                return RunEnd(
                    status: .error, errors: ["the agent stopped before step \(index); the run did not finish"])
            }
            sequence += 1
            let answer: PlanResponse
            let events = session.history.takePending()
            do {
                answer = try await askForSteps(
                    &session, planner: planner, sequence: sequence, results: results, events: events,
                    handover: sequence == 1 ? handover : nil)
            } catch {
                session.history.restore(events)
                let failure = StepFailure.from(error)
                let message =
                    failure == .cancelled
                    ? "cancelled while the model was choosing step \(index)"
                    : "asking the model for step \(index): \(failure.message)"
                return RunEnd(failure, message: message)
            }
            if let end = answer.end { return RunEnd(status: end.status, errors: end.errors) }

            results = []
            var skipping = false
            for raw in answer.steps {
                defer { index += 1 }
                if skipping {
                    results.append(PlannedStepResult(stepIndex: index, status: "skipped"))
                    continue
                }
                let step: Step
                do {
                    step = try Trajectory.validate([raw])[0]
                } catch {
                    results.append(PlannedStepResult(stepIndex: index, status: "task_failed", error: "\(error)"))
                    skipping = true
                    continue
                }
                if let end = stopBefore(index, step, shouldStop: shouldStop) { return end }
                let target = Self.target(of: step, lastClick: lastClick)
                var checkpoint: JSONObject?
                let outcome = await executeStep(&session, index: index, step: step, raw: raw) { session in
                    if let target { checkpoint = await Self.checkpoint(desktop: session.desktop, at: target) }
                }
                if case .click(let x, let y, _, _) = step {
                    lastClick = Point(x: Int(x.rounded(.down)), y: Int(y.rounded(.down)))
                } else {
                    lastClick = nil
                }
                switch outcome.failure {
                case nil:
                    results.append(
                        PlannedStepResult(
                            stepIndex: index, status: "success", result: outcome.record.result, checkpoint: checkpoint))
                case .taskFailed(let message)? where step.funcName != "fail":
                    // The model is told and may try something else; the rest of its answer is
                    // not executed on a screen it did not expect.
                    results.append(
                        PlannedStepResult(
                            stepIndex: index, status: "task_failed",
                            result: outcome.record.result.isEmpty ? nil : outcome.record.result, error: message))
                    skipping = true
                    // A modifier the skipped steps would have released is not left held.
                    try? await desktop.releaseAllInputs()
                case let failure?:
                    return RunEnd(failure, message: outcome.message, step: index)
                }
            }
        }
    }

    /// Shows the model the screen and the previous steps' results; returns its next steps.
    private func askForSteps(
        _ session: inout RunSession, planner: PlannerAssignment, sequence: Int, results: [PlannedStepResult],
        events: [JSONObject], handover: PlanHandover?
    ) async throws -> PlanResponse {
        let clock = ContinuousClock()
        let started = clock.now
        let screen = try await desktop.dimensions()
        let native = DisplaySize(width: screen.width, height: screen.height)
        let size = native.fitting(longSide: planner.screenshotLongSide)
        let shot = try await desktop.screenshot(ScreenshotOptions(width: size.width, height: size.height))
        let captured = clock.now
        let imageID = try await environment.uploadImage(shot.png)
        let uploaded = clock.now
        let pointer = try? await desktop.pointerPosition()
        var request = PlanRequest(
            leaseToken: "", sequence: sequence, imageID: imageID, screen: native, imageSize: size,
            pointer: pointer.map { PointerPosition(x: $0.x, y: $0.y) }, results: results,
            outputData: session.outputData, events: events)
        request.handover = handover
        let answer = try await environment.plan(request)
        // What a model turn costs the machine (scripts/bench-planner reads these).
        session.logger.debug(
            "model turn",
            metadata: [
                "turn": "\(sequence)", "capture.ms": "\(Self.milliseconds(started.duration(to: captured)))",
                "upload.ms": "\(Self.milliseconds(captured.duration(to: uploaded)))",
                "plan.ms": "\(Self.milliseconds(uploaded.duration(to: clock.now)))", "png.bytes": "\(shot.png.count)",
                "steps": "\(answer.steps.count)",
            ])
        return answer
    }

    /// Where a step acts, for its checkpoint: clicks, drags (their start), scrolls at a point,
    /// and a `type` right after a click (the clicked point).
    static func target(of step: Step, lastClick: Point?) -> Point? {
        func point(_ x: Double, _ y: Double) -> Point { Point(x: Int(x.rounded(.down)), y: Int(y.rounded(.down))) }
        switch step {
        case .click(let x, let y, _, _): return point(x, y)
        case .drag(let x, let y, _, _, _, _): return point(x, y)
        case .scroll(_, _, let x?, let y?): return point(x, y)
        case .type: return lastClick
        default: return nil
        }
    }

    /// The recorded crop around `point` (`Checkpoint.recordedRegion`: 128×64, clipped to the
    /// screen), shared with `cyberdesk-agent record`, as a checkpoint:
    /// `{region: [x, y, w, h], png: base64, threshold, timeout}` in screen coordinates. Nil
    /// when the screen cannot be read (the step still runs; it is only recorded without one).
    static func checkpoint(desktop: any Desktop, at point: Point) async -> JSONObject? {
        guard let screen = try? await desktop.dimensions(),
            let region = Checkpoint.recordedRegion(
                x: point.x, y: point.y, screenWidth: screen.width, screenHeight: screen.height),
            let shot = try? await desktop.screenshot(
                ScreenshotOptions(region: Rect(x: region.x, y: region.y, width: region.width, height: region.height)))
        else { return nil }
        let checkpoint = Checkpoint(
            x: shot.source.x, y: shot.source.y, width: shot.source.width, height: shot.source.height, png: shot.png,
            threshold: Checkpoint.defaultThreshold, timeout: Checkpoint.defaultTimeout)
        return checkpoint.json.objectValue
    }
}
