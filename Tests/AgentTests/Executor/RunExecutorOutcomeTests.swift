import Agent
import CyberdeskAPI
import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Run executor: failures, screenshots and cancellation")
    struct RunExecutorOutcomeTests {
        static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

        @Test("a fail step ends the run as task_failed with its message and a final screenshot")
        func failStep() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run(
                    [
                        step("screenshot"), step("set_output", "seen", "yes"),
                        step("fail", "patient {name} not found"), step("write_file", "after.txt", "x"),
                    ], inputs: ["name": "Ada"])
                #expect(outcome.status == .taskFailed)
                #expect(outcome.errors == ["step 2 (fail): patient Ada not found"])
                #expect(outcome.outputData == ["seen": "yes"], "outputs so far are kept")
                #expect(!world.exists("CyberdeskTransfers/after.txt"))

                let images = await world.environment.images
                #expect(images.count == 2)
                #expect(images.allSatisfy { Array($0.png.prefix(8)) == Self.pngSignature })
                let events = await world.environment.events
                let steps = events.filter { $0["type"] == "step" }
                #expect(steps.map { $0["func_name"] } == ["screenshot", "set_output", "fail"])
                #expect(steps[0]["result"]?.objectValue?["image_id"] == .string(images[0].id))
                #expect(steps[0]["result"]?.objectValue?["width"] == 1280)
                #expect(steps[2]["status"] == "task_failed")
                #expect(steps[2]["error"] == "patient Ada not found")
                let final = try #require(events.first { $0["type"] == "final_screenshot" })
                #expect(final["image_id"] == .string(images[1].id))
                #expect(final["step_index"] == 2)
                #expect(events.last?["type"] == "run_end")
            }
        }

        @Test("a desktop error ends the run as error, naming the step")
        func desktopError() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([step("click", 5000, 10), step("key", "ctrl+a")])
                #expect(outcome.status == .error)
                #expect(
                    outcome.errors.first?.hasPrefix("step 0 (click): point (5000, 10) is outside the screen") == true)
                #expect(await world.environment.images.count == 1)

                // A literal unknown name is refused with the trajectory; one that comes from an
                // input is known only when the step runs, and the desktop refuses it then.
                let key = await world.run([step("key", "{chord}")], inputs: ["chord": "ctrlx+a"])
                #expect(key.status == .error)
                #expect(key.errors.first?.hasPrefix("step 0 (key): unknown key name 'ctrlx'") == true)
            }
        }

        @Test("an upload the server refuses is an error; the final screenshot's failure is in the history")
        func uploadRefused() async throws {
            try await ExecutorWorld.with { world in
                await world.environment.refuseUploads(true)
                let outcome = await world.run([step("screenshot")])
                #expect(outcome.status == .error)
                #expect(outcome.errors.first == "step 0 (screenshot): the server refused the upload (fake)")
                let final = try #require(await world.environment.events.first { $0["type"] == "final_screenshot" })
                #expect(final["error"]?.stringValue?.contains("refused") == true)
            }
        }

        @Test("an invalid trajectory is an error naming the step, and nothing runs")
        func invalidTrajectory() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([step("wait", 0), step("click", 1), step("fail", "x")])
                #expect(outcome.status == .error)
                #expect(outcome.errors == ["invalid trajectory: step 1 (click): missing required argument 'y'"])
                #expect(await world.environment.startedSteps.isEmpty)

                let empty = await world.run([])
                #expect(empty.status == .error)
                #expect(empty.errors.first?.hasPrefix("the workflow has no approved trajectory and no model") == true)
            }
        }

        @Test("cancelling during a wait stops within a second, releases held keys, and reports cancelled")
        func cancelDuringWait() async throws {
            try await ExecutorWorld.with { world in
                let executor = world.executor()
                let assignment = world.assignment([step("key", "shift", kwargs: ["down": true]), step("wait", 30)])
                let task = Task { await executor.execute(assignment) }
                #expect(await eventually { await world.environment.startedSteps.contains(1) })
                #expect(await world.desktop.pressedInputs().keys.count == 1, "shift is held")
                let cancelled = ContinuousClock.now
                task.cancel()
                let outcome = await task.value
                #expect(cancelled.duration(to: .now) < .seconds(1))
                #expect(outcome.status == .cancelled)
                #expect(outcome.errors == ["cancelled during step 1 (wait)"])
                #expect(await world.desktop.pressedInputs().keys.isEmpty, "held keys are released")
                #expect(await world.environment.images.isEmpty, "no final screenshot for a cancel")
                let last = try #require(await world.environment.stepEvents.last)
                #expect(last["status"] == "cancelled", "the history is sent although the task is cancelled")
                #expect(await world.environment.events.last?["status"] == "cancelled")
            }
        }

        @Test("cancelling during a long type stops typing within a second with no key left down")
        func cancelDuringType() async throws {
            try await ExecutorWorld.with { world in
                let xterm = try await XtermCat(on: world.server)
                defer { xterm.remove() }
                world.configuration.typingOptions = TypingOptions(perKeyDelay: .milliseconds(3))
                let text = String(repeating: "abcdefghij", count: 400)
                let executor = world.executor()
                let assignment = world.assignment([
                    step("mouse_move", 100, 100), step("key", "shift", kwargs: ["down": true]),
                    step("type", .string(text)),
                ])
                let task = Task { await executor.execute(assignment) }
                let typing = await eventually {
                    ((try? Data(contentsOf: xterm.output))?.count ?? 0) > 20
                }
                #expect(typing)
                let cancelled = ContinuousClock.now
                task.cancel()
                let outcome = await task.value
                #expect(cancelled.duration(to: .now) < .seconds(1))
                #expect(outcome.status == .cancelled)
                #expect(await world.desktop.pressedInputs().keys.isEmpty, "no key left down")
                // Keys sent just before the cancel may still be on their way through xterm and cat;
                // once they arrived nothing more comes (at 3 ms a key, 0.5 s would bring ~160).
                try await Task.sleep(for: .milliseconds(300))
                let settled = (try? Data(contentsOf: xterm.output))?.count ?? 0
                try await Task.sleep(for: .milliseconds(500))
                let later = (try? Data(contentsOf: xterm.output))?.count ?? 0
                #expect(later == settled, "typing stopped")
                #expect(later < text.utf8.count)
                let typed = String(decoding: (try? Data(contentsOf: xterm.output)) ?? Data(), as: UTF8.self)
                #expect(text.hasPrefix(typed), "typed exactly, in lower case despite the held shift")
            }
        }

        @Test("history events reach the server after every step, in order")
        func batchedHistory() async throws {
            try await ExecutorWorld.with { world in
                let steps = (0..<120).map { step("set_output", .string("k\($0)"), "v") }
                let outcome = await world.run(steps)
                #expect(outcome.status == .success, "\(outcome.errors)")
                let indexes = await world.environment.stepEvents.map { $0["step_index"] }
                #expect(indexes == (0..<120).map { .int(Int64($0)) })
                // One call per step, so a long step never hides the previous one's event.
                #expect(await world.environment.recordCalls >= 120)
            }
        }

        @Test("the daemon's stop request ends the run before the next step")
        func stopsBetweenSteps() async throws {
            try await ExecutorWorld.with { world in
                var asked = 0
                let outcome = await world.executor().execute(
                    world.assignment([step("set_output", "a", "1"), step("set_output", "b", "2")]),
                    shouldStop: {
                        asked += 1
                        return asked > 1
                    })
                #expect(outcome.status == .error)
                #expect(outcome.errors == ["the agent stopped before step 1 (set_output); the run did not finish"])
                #expect(outcome.outputData == ["a": "1"])
            }
        }
    }
}
