import AsyncHTTPClient
import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

extension FaultTests {
    /// kill -9 of the agent while a run holds Shift down: the run ends `error` naming the step
    /// within lease + grace (or at once when the agent comes back first), the X server shows
    /// no key pressed once the agent restarts, and the machine takes the next run.
    @Test func agentKilledWhileHoldingAKeyEndsTheRunAndLeavesNoKeyPressed() async throws {
        try await System.with { system in
            let api = system.api
            let context = { system.agentLog }
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let hold = try await api.workflow(
                "hold", steps: [Self.step("key", ["shift"], ["down": true]), Self.step("wait", [60])])

            // 1. Killed, and not back before the lease lapses: the server ends the run.
            let lostID = try await api.run(hold)
            // Once step 0 (the key) is in the history, the agent is in step 1 (the wait).
            #expect(await api.reachedStep(1, of: lostID))
            let held = try XKeyboard.pressedKeycodes(display: system.display)
            #expect(!held.isEmpty, "the X server shows Shift down during the wait")
            let killedAt = ContinuousClock.now
            system.killAgent()
            _ = await system.waitAgent()
            let lost = try await api.waitForRun(lostID, timeout: .seconds(30), context: context)
            let lostAfter = ContinuousClock.now - killedAt
            print("agent kill -9: run ended error \(lostAfter) after the kill (lease \(system.timing.lease) s + grace \(system.timing.lostGrace) s)")
            #expect(lost["status"]?.stringValue == "error")
            #expect(Self.firstError(lost).contains("machine lost during step 1"), "\(Self.firstError(lost))")
            // The lease was renewed at most one heartbeat before the kill; the sweeper runs every 0.2 s.
            let bound = Double(system.timing.lease) + system.timing.lostGrace + 1.5
            #expect(lostAfter < .seconds(bound), "ended \(lostAfter) after the kill; lease + grace is \(bound - 1.5) s")
            // Nobody released the key while the agent was dead: what the restart must undo.
            #expect(try XKeyboard.pressedKeycodes(display: system.display) == held)
            try await system.startAgent(machineID: machineID)
            let released = await eventually(timeout: .seconds(5)) {
                (try? XKeyboard.pressedKeycodes(display: system.display))?.isEmpty == true
            }
            #expect(released, "keys still down after the restart: \((try? XKeyboard.pressedKeycodes(display: system.display)) ?? [])")
            try await Self.expectMachineTakesWork(api, context: context)

            // 2. Killed and restarted before the lease lapses: the new process reports the run.
            let restartedID = try await api.run(hold)
            #expect(await api.reachedStep(1, of: restartedID))
            #expect(try !XKeyboard.pressedKeycodes(display: system.display).isEmpty)
            system.killAgent()
            _ = await system.waitAgent()
            let restartedAt = ContinuousClock.now
            try await system.startAgent(machineID: machineID)
            let reported = try await api.waitForRun(restartedID, timeout: .seconds(20), context: context)
            print("agent kill -9 and restart: run reported \(ContinuousClock.now - restartedAt) after the restart")
            #expect(ContinuousClock.now - restartedAt < .seconds(Double(system.timing.lease)))
            #expect(reported["status"]?.stringValue == "error")
            #expect(
                Self.firstError(reported).contains("agent restarted during step 1"), "\(Self.firstError(reported))")
            #expect(
                await eventually(timeout: .seconds(5)) {
                    (try? XKeyboard.pressedKeycodes(display: system.display))?.isEmpty == true
                })
            try await Self.expectMachineTakesWork(api, context: context)
            #expect(await system.stopAgent() == 0)
        }
    }

    /// SIGTERM mid-run (a restart by systemd or an upgrade): the current step finishes, the
    /// run is reported before the next step, the agent exits 0, and after the restart nothing
    /// of that run is executed again (lines typed into an xterm running `cat` are counted).
    @Test func agentRestartedMidRunFinishesTheStepAndExecutesNothingTwice() async throws {
        try await System.with { system in
            let api = system.api
            let context = { system.agentLog }
            let xterm = try await XtermCat(on: system.xvfb)
            defer { xterm.remove() }
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let focus: [JSONValue] = [.int(Int64(XtermCat.focusPoint.x)), .int(Int64(XtermCat.focusPoint.y))]
            let lines = try await api.workflow(
                "lines",
                steps: [
                    Self.step("click", focus), Self.step("type", ["one\n"]), Self.step("wait", [2]),
                    Self.step("type", ["two\n"]),
                ])
            let runID = try await api.run(lines)
            // Steps 0 and 1 are in the history: the agent is in step 2 (the wait).
            #expect(await api.reachedStep(2, of: runID))
            #expect(await xterm.waitForText(endingWith: "one\n") == "one\n")
            let stoppedAt = ContinuousClock.now
            #expect(await system.stopAgent() == 0, "\(system.agentLog.suffix(2000))")
            #expect(ContinuousClock.now - stoppedAt < .seconds(10))
            // Reported by the stopping agent, not left to lapse: already ended when it exited.
            let ended = try await api.get("/v1/runs/\(runID)")
            #expect(ended["status"]?.stringValue == "error")
            #expect(Self.firstError(ended).contains("stopped before step 3"), "\(Self.firstError(ended))")
            let history = ended["run_message_history"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let wait = history.first { $0["step_index"]?.intValue == 2 && $0["type"]?.stringValue == "step" }
            #expect(wait != nil && wait?["error"] == nil, "the wait finished: \(String(describing: wait))")

            // Restarted: the interrupted run is not run again; the next run types once.
            try await system.startAgent(machineID: machineID)
            let three = try await api.workflow(
                "three", steps: [Self.step("click", focus), Self.step("type", ["three\n"])])
            let next = try await api.waitForRun(try await api.run(three), context: context)
            #expect(next["status"]?.stringValue == "success")
            let typed = await xterm.waitForText(endingWith: "three\n")
            #expect(typed == "one\nthree\n", "typed: \(typed.debugDescription)")
            #expect(try await api.get("/v1/runs/\(runID)")["status"]?.stringValue == "error")
            #expect(await system.stopAgent() == 0)
        }
    }

    /// A step that fails mid-way ends the run with the step named in its error, the steps
    /// before it done and the ones after it not, and a final screenshot the customer can
    /// open by a signed link.
    @Test(arguments: [
        (
            "terminal command exits non-zero", FaultTests.step("execute_terminal_command", [], ["command": "exit 3"]),
            "step 1 (execute_terminal_command)"
        ),
        ("fail step", FaultTests.step("fail", [], ["message": "the chart is missing"]), "step 1 (fail)"),
    ])
    func aFailingStepEndsTheRunNamingItWithAFinalScreenshot(_ label: String, failing: JSONValue, named: String)
        async throws
    {
        try await System.with { system in
            let api = system.api
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let workflow = try await api.workflow(
                label,
                steps: [
                    Self.step("set_output", [], ["key": "before", "value": "done"]), failing,
                    Self.step("set_output", [], ["key": "after", "value": "done"]),
                ])
            let run = try await api.waitForRun(try await api.run(workflow), context: { system.agentLog })
            let runID = try #require(run["id"]?.stringValue)
            #expect(run["status"]?.stringValue == "task_failed", "\(run["error"] ?? .null)")
            #expect(Self.firstError(run).contains(named), "\(Self.firstError(run))")
            let output = run["output_data"]?.objectValue ?? [:]
            #expect(output["before"]?.stringValue == "done" && output["after"] == nil, "\(output)")

            let history = run["run_message_history"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let final = history.first { $0["type"]?.stringValue == "final_screenshot" }
            #expect(final?["step_index"]?.intValue == 1)
            let imageID = try #require(final?["image_id"]?.stringValue, "no final screenshot: \(history)")
            let link = try await api.get("/v1/runs/\(runID)/image/signed-url?image_url=\(imageID)")
            let signed = try #require(link["signed_url"]?.stringValue)
            // The link works without the API key, as a browser would open it.
            let image = try await HTTPClient.shared.execute(HTTPClientRequest(url: signed), timeout: .seconds(10))
            #expect(image.status.code == 200 && image.headers.first(name: "Content-Type") == "image/png")
            var body = try await image.body.collect(upTo: 20 << 20)
            let png = body.readBytes(length: body.readableBytes) ?? []
            #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            #expect(await system.stopAgent() == 0)
        }
    }
}
