import CyberdeskAPI
import Desktop

/// Replay that looks before it acts (STEPS.md, Checkpoints): before a step with a checkpoint
/// acts, the screen region must match the crop recorded with it, within its threshold and a
/// shift of up to 32 trajectory pixels (which moves the action by the same offset). A step
/// whose checkpoint never matches does not act: nothing is clicked, dragged or typed into a
/// screen that changed.
extension RunExecutor {
    /// How long apart the screen is looked at while a checkpoint waits.
    static let checkpointPollInterval: Duration = .milliseconds(250)

    enum CheckpointOutcome {
        /// The region matched; the step acts shifted by this offset (trajectory pixels). `check`
        /// goes into the step's history event.
        case matched(dx: Int, dy: Int, check: JSONObject)
        /// No match within the checkpoint's timeout.
        case timedOut
        /// The screen could not be read, or the run was cancelled.
        case failed(StepFailure)
    }

    /// Waits until the step's checkpoint matches or its timeout passes, polling at most every
    /// 250 ms. A match is reported in the step's own history event; a miss (the step does not
    /// act) in a `checkpoint` event of its own.
    func waitForCheckpoint(
        _ session: inout RunSession, _ checkpoint: Checkpoint, index: Int, step: Step
    ) async -> CheckpointOutcome {
        let started = ContinuousClock.now
        let matcher: CheckpointMatcher
        do {
            matcher = try CheckpointMatcher(png: checkpoint.png)
        } catch {
            return .failed(.error("checkpoint of step \(index) (\(step.funcName)): \(error)"))
        }
        let region = Rect(x: checkpoint.x, y: checkpoint.y, width: checkpoint.width, height: checkpoint.height)
        let recorded = session.run.dimensions.map { Size(width: $0.width, height: $0.height) }
        let deadline = started + .milliseconds(Int64(checkpoint.timeout * 1000))
        var polls = 0
        var last: CheckpointMatch?
        while true {
            polls += 1
            do {
                let match = try await desktop.checkCheckpoint(
                    matcher, region: region, recorded: recorded, threshold: checkpoint.threshold)
                last = match
                if match.matched {
                    return .matched(
                        dx: match.dx, dy: match.dy, check: Self.check(match: match, polls: polls, since: started))
                }
            } catch {
                return .failed(StepFailure.from(error))
            }
            let now = ContinuousClock.now
            guard now < deadline else { break }
            do {
                try await Task.sleep(until: min(now + Self.checkpointPollInterval, deadline))
            } catch {
                return .failed(.cancelled)
            }
        }
        var event = Self.check(match: last, polls: polls, since: started)
        event["type"] = "checkpoint"
        event["step_index"] = .int(Int64(index))
        event["func_name"] = .string(step.funcName)
        event["at"] = .string(RunSession.timestamp())
        session.history.append(event)
        session.logger.notice("checkpoint did not match", metadata: ["step.index": "\(index)"])
        return .timedOut
    }

    /// Cache detection (PLANNER.md, Checkpoints and fallback): the checkpoint did not match by
    /// pixels, and the run names a cache detection model. The server asks it, showing the
    /// recorded crop, the same region now and the whole screen now, whether the screen still
    /// shows the recorded state. True only when it says so; any failure to ask is "no", so the
    /// step does not act on a guess.
    func screenIsTheSame(
        _ session: inout RunSession, _ checkpoint: Checkpoint, index: Int, step: Step, model: PlannerAssignment
    ) async -> Bool {
        let events = session.history.takePending()
        do {
            let screen = try await desktop.dimensions()
            let size = DisplaySize(width: screen.width, height: screen.height).fitting(
                longSide: model.screenshotLongSide)
            let whole = try await desktop.screenshot(ScreenshotOptions(width: size.width, height: size.height))
            // The checkpoint's region on this screen, with the coordinates' scaling, at the crop's size.
            let scaler = CoordinateScaler(recorded: session.run.dimensions, screen: screen)
            let x0 = Int((Double(checkpoint.x) * scaler.scaleX).rounded(.down))
            let y0 = Int((Double(checkpoint.y) * scaler.scaleY).rounded(.down))
            let x1 = Int((Double(checkpoint.x + checkpoint.width) * scaler.scaleX).rounded(.up))
            let y1 = Int((Double(checkpoint.y + checkpoint.height) * scaler.scaleY).rounded(.up))
            let region = try await desktop.screenshot(
                ScreenshotOptions(
                    width: checkpoint.width, height: checkpoint.height,
                    region: Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)))
            let request = SameScreenRequest(
                leaseToken: "", stepIndex: index, funcName: step.funcName,
                recordedImageID: try await environment.uploadImage(checkpoint.png),
                regionImageID: try await environment.uploadImage(region.png),
                screenImageID: try await environment.uploadImage(whole.png), imageSize: size, events: events)
            let answer = try await environment.sameScreen(request)
            session.logger.info(
                "cache detection answered", metadata: ["step.index": "\(index)", "same": "\(answer.same)"])
            return answer.same
        } catch {
            session.history.restore(events)
            session.logger.warning(
                "cache detection failed; the step does not act",
                metadata: ["step.index": "\(index)", "error": "\(StepFailure.from(error).message)"])
            return false
        }
    }

    /// What a check found: `{matched, waited_ms, polls, offset, difference}`.
    static func check(match: CheckpointMatch?, polls: Int, since started: ContinuousClock.Instant) -> JSONObject {
        var check: JSONObject = [
            "matched": .bool(match?.matched ?? false),
            "waited_ms": .double(milliseconds(started.duration(to: .now))), "polls": .int(Int64(polls)),
        ]
        if let match {
            check["offset"] = [.int(Int64(match.dx)), .int(Int64(match.dy))]
            check["difference"] = .double((match.difference * 10_000).rounded() / 10_000)
        }
        return check
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return (value * 10).rounded() / 10
    }
}

extension Step {
    /// The step with its points moved by (dx, dy) trajectory pixels: where a checkpoint found
    /// its target after a small shift.
    func shifted(dx: Int, dy: Int) -> Step {
        guard dx != 0 || dy != 0 else { return self }
        let x = Double(dx)
        let y = Double(dy)
        switch self {
        case .click(let px, let py, let button, let clicks):
            return .click(x: px + x, y: py + y, button: button, clicks: clicks)
        case .mouseDown(let button, let px?, let py?): return .mouseDown(button: button, x: px + x, y: py + y)
        case .mouseUp(let button, let px?, let py?): return .mouseUp(button: button, x: px + x, y: py + y)
        case .mouseMove(let px, let py): return .mouseMove(x: px + x, y: py + y)
        case .drag(let sx, let sy, let tx, let ty, let duration, let button):
            return .drag(startX: sx + x, startY: sy + y, toX: tx + x, toY: ty + y, duration: duration, button: button)
        case .scroll(let direction, let amount, let px?, let py?):
            return .scroll(direction: direction, amount: amount, x: px + x, y: py + y)
        default: return self
        }
    }
}
