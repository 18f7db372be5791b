import Agent
import CyberdeskAPI
import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    /// Runs a model performs: the executor shows the screen, executes the steps each answer
    /// holds with the replay machinery, and reports what they did (PLANNER.md). The fake
    /// environment stands in for the server's `plan` (the model's turns are scripted).
    @Suite("Run executor: steps chosen by a model")
    struct RunExecutorPlannedTests {
        static let planner = PlannerAssignment(screenshotLongSide: 640, modelName: "scripted")

        @Test("the steps of each answer run like replayed steps, and their results and checkpoints go back")
        func stepsAndResults() async throws {
            try await ExecutorWorld.with(secrets: ["password": "hunter2-✓"]) { world in
                let xterm = try await XtermCat(on: world.server)
                defer { xterm.remove() }
                await world.environment.script([
                    PlanResponse(
                        steps: [
                            step("click", .int(Int64(XtermCat.focusPoint.x)), .int(Int64(XtermCat.focusPoint.y))),
                            step("type", "Zoë {$password}\n"),
                        ], end: nil),
                    PlanResponse(steps: [step("set_output", "patient", "Zoë")], end: nil),
                ])
                let outcome = await world.executor().execute(
                    world.assignment([], sensitive: ["password"], planner: Self.planner))
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(outcome.outputData == ["patient": "Zoë"])
                #expect(await xterm.waitForText(endingWith: "\n") == "Zoë hunter2-✓\n")

                let requests = await world.environment.planRequests
                #expect(requests.map(\.sequence) == [1, 2, 3])
                // The screen (1280x800) is shown to the model fitted to the long side it asked for.
                #expect(requests[0].screen == DisplaySize(width: 1280, height: 800))
                #expect(requests[0].imageSize == DisplaySize(width: 640, height: 400))
                let images = await world.environment.images
                let first = try #require(images.first { $0.id == requests[0].imageID })
                #expect(Self.pngSize(first.png) == DisplaySize(width: 640, height: 400))
                #expect(requests[0].results.isEmpty)

                let results = requests[1].results
                #expect(results.map(\.stepIndex) == [0, 1])
                #expect(results.allSatisfy { $0.status == "success" })
                // A checkpoint before the click, and before the typing right after it: a crop
                // of 128x64 around the clicked point.
                for result in results {
                    let checkpoint = try #require(result.checkpoint)
                    #expect(checkpoint["region"] == [36, 68, 128, 64])
                    let png = try #require(checkpoint["png"]?.stringValue.flatMap { Data(base64Encoded: $0) })
                    #expect(Self.pngSize(Array(png)) == DisplaySize(width: 128, height: 64))
                }
                #expect(requests[2].results.map(\.stepIndex) == [2])
                #expect(requests[2].results[0].checkpoint == nil)
                #expect(requests[2].outputData == ["patient": "Zoë"])
                // The history shows the placeholder, never the value.
                let text = await world.environment.recordedText
                #expect(text.contains("{$password}") && !text.contains("hunter2"))
            }
        }

        @Test("a step that cannot do its task is reported and the rest of its answer skipped")
        func failedStepGoesBackToTheModel() async throws {
            try await ExecutorWorld.with { world in
                try world.write("token", to: ".local/state/cyberdesk-agent/credential.json")
                await world.environment.script([
                    // A model may not read the agent's own files, nor run commands the workflow
                    // does not allow.
                    PlanResponse(
                        steps: [
                            step("read_file", "~/.local/state/cyberdesk-agent/credential.json", "token"),
                            step("write_file", "CyberdeskTransfers/never.txt", "x"),
                        ], end: nil),
                    PlanResponse(steps: [step("execute_terminal_command", "id")], end: nil),
                    PlanResponse(steps: [], end: PlanEnd(status: .taskFailed, errors: ["the chart is locked"])),
                ])
                let outcome = await world.executor().execute(world.assignment([], planner: Self.planner))
                #expect(outcome.status == .taskFailed)
                #expect(outcome.errors == ["the chart is locked"])
                #expect(outcome.outputData["token"] == nil)
                let requests = await world.environment.planRequests
                let results = requests[1].results
                #expect(results.map(\.status) == ["task_failed", "skipped"])
                #expect(results[0].error?.contains("outside the folders a run performed by a model may use") == true)
                #expect(!world.exists("CyberdeskTransfers/never.txt"))
                #expect(requests[2].results.first?.error?.contains("terminal_command_allowlist") == true)
            }
        }

        @Test("a fail step ends the run; cancelling while the model thinks ends it at once")
        func failAndCancel() async throws {
            try await ExecutorWorld.with { world in
                await world.environment.script([PlanResponse(steps: [step("fail", "no such patient")], end: nil)])
                let failed = await world.executor().execute(world.assignment([], planner: Self.planner))
                #expect(failed.status == .taskFailed)
                #expect(failed.errors == ["step 0 (fail): no such patient"])

                await world.environment.script([], delay: .seconds(60))
                let executor = world.executor()
                let assignment = world.assignment([], planner: Self.planner)
                let task = Task { await executor.execute(assignment) }
                let asked = await eventually { await world.environment.planRequests.count == 2 }
                #expect(asked)
                task.cancel()
                let cancelled = await task.value
                #expect(cancelled.status == .cancelled)
                #expect(cancelled.errors == ["cancelled while the model was choosing step 0"])
            }
        }

        /// Width and height from a PNG's IHDR chunk.
        static func pngSize(_ png: [UInt8]) -> DisplaySize? {
            guard png.count >= 24 else { return nil }
            func be(_ at: Int) -> Int { png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
            return DisplaySize(width: be(16), height: be(20))
        }
    }
}
