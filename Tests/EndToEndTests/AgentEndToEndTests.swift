import AsyncHTTPClient
import ControlPlane
import CyberdeskAPI
import Foundation
import NIOHTTP1
import SystemTestSupport
import TestSupport
import Testing

/// The product as a customer sees it: a machine joins with `cyberdesk-agent join`, runs as
/// a daemon, and executes runs created through the public API on a real X display.
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
struct AgentEndToEndTests {
    static let secret = System.secret

    @Test func runGoesFromSchedulingToSuccessWithInputsSecretsFilesAndExports() async throws {
        try await System.with { system in try await runToSuccess(system) }
    }

    func runToSuccess(_ system: System) async throws {
        let xterm = try await XtermCat(on: system.xvfb)
        defer { xterm.remove() }
        let machineID = try await system.join()
        try await system.startAgent(machineID: machineID)

        let workflow = try await system.call(
            .POST, "/v1/workflows",
            json: [
                "name": "note", "main_prompt": "Write a note for {patient}", "includes_file_exports": true,
                "input_schema": .string(#"{"type": "object", "required": ["patient"]}"#),
            ], expect: 201)
        let workflowID = try #require(workflow["id"]?.stringValue)
        let steps: [JSONValue] = [
            ["func_name": "click", "args": [.int(Int64(XtermCat.focusPoint.x)), .int(Int64(XtermCat.focusPoint.y))]],
            ["func_name": "type", "args": ["Note for {patient}: {$password}\n"]],
            [
                "func_name": "execute_terminal_command",
                "kwargs": ["command": "cat ~/CyberdeskTransfers/chart.txt", "output_key": "chart"],
            ],
            [
                "func_name": "write_file",
                "kwargs": ["path": "~/CyberdeskTransfers/summary.txt", "content": "summary for {patient}"],
            ],
            ["func_name": "set_output", "kwargs": ["key": "patient", "value": "{patient}"]],
            ["func_name": "screenshot"],
        ]
        _ = try await system.call(
            .POST, "/v1/trajectories",
            json: [
                "workflow_id": .string(workflowID), "trajectory_data": .array(steps),
                "dimensions": ["width": 1280, "height": 800], "is_approved": true,
            ], expect: 201)
        let chart = Data("blood pressure 120/80\n".utf8).base64EncodedString()
        let created = try await system.call(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(workflowID), "input_values": ["patient": "Zoë Ångström"],
                "sensitive_input_values": ["password": .string(Self.secret)],
                "file_inputs": [["filename": "chart.txt", "content": .string(chart)]],
            ], expect: 201)
        let runID = try #require(created["id"]?.stringValue)
        #expect(created["status"]?.stringValue == "scheduling")

        let run = try await system.waitForRun(runID)
        #expect(run["status"]?.stringValue == "success", "\(run["error"] ?? .null)\n\(system.agentLog.suffix(3000))")
        let typed = await xterm.waitForText(endingWith: "\n")
        #expect(typed == "Note for Zoë Ångström: \(Self.secret)\n")
        let output = try #require(run["output_data"]?.objectValue)
        #expect(output["chart"]?.stringValue == "blood pressure 120/80")
        #expect(output["patient"]?.stringValue == "Zoë Ångström")
        #expect(run["machine_id"]?.stringValue == machineID)

        // The new file under ~/CyberdeskTransfers came back as an OUTPUT attachment.
        let outputs = try await system.get("/v1/run-attachments?run_id=\(runID)&attachment_type=output")
        let names = outputs["items"]?.arrayValue?.compactMap { $0.objectValue?["filename"]?.stringValue } ?? []
        #expect(names.contains("summary.txt"))

        // The screenshot step's image is reachable by a signed link, without the API key.
        let shotEvent = run["run_message_history"]?.arrayValue?.compactMap(\.objectValue)
            .first { $0["func_name"]?.stringValue == "screenshot" }
        let imageID = try #require(
            shotEvent?["result"]?.objectValue?["image_id"]?.stringValue ?? shotEvent?["image_id"]?.stringValue)
        let link = try await system.get("/v1/runs/\(runID)/image/signed-url?image_url=\(imageID)")
        let signed = try #require(link["signed_url"]?.stringValue)
        let image = try await system.fetch(signed)
        #expect(image.status == 200 && image.contentType == "image/png")
        let tampered = try await system.fetch(signed.replacingOccurrences(of: "signature=", with: "signature=x"))
        #expect(tampered.status == 403)

        // The history shows the placeholder, never the value; `System.with` then scans every
        // answer, log and file of the system for the value.
        let history = run["run_message_history"]?.compactJSON ?? ""
        #expect(history.contains("{$password}"))
        // A positive control for that scan: the value the xterm received is found.
        #expect(SecretForms(Self.secret).found(in: Array(typed.utf8)) == "plain text")

        #expect(await system.stopAgent() == 0)
    }

    @Test func cancellingARunningRunStopsItAndFreesTheMachine() async throws {
        try await System.with { system in try await cancelRunning(system) }
    }

    func cancelRunning(_ system: System) async throws {
        let machineID = try await system.join()
        try await system.startAgent(machineID: machineID)
        let workflowID = try await system.workflow("wait", steps: [["func_name": "wait", "args": [60]]])
        let slow = try await system.call(
            .POST, "/v1/runs",
            json: ["workflow_id": .string(workflowID), "sensitive_input_values": ["password": .string(Self.secret)]],
            expect: 201)
        let slowID = try #require(slow["id"]?.stringValue)
        let running = await eventually(timeout: .seconds(20)) {
            (try? await system.get("/v1/runs/\(slowID)"))?["status"]?.stringValue == "running"
        }
        #expect(running, "\(system.agentLog.suffix(3000))")

        let cancelled = try await system.call(.PATCH, "/v1/runs/\(slowID)", json: ["status": "cancelled"], expect: 200)
        #expect(cancelled["status"]?.stringValue == "cancelled")

        // The machine takes the next run right away: the wait was interrupted.
        let next = try await system.call(.POST, "/v1/runs", json: ["workflow_id": .string(workflowID)], expect: 201)
        let nextID = try #require(next["id"]?.stringValue)
        let started = await eventually(timeout: .seconds(10)) {
            (try? await system.get("/v1/runs/\(nextID)"))?["status"]?.stringValue == "running"
        }
        #expect(started, "\(system.agentLog.suffix(3000))")
        #expect(try await system.get("/v1/runs/\(slowID)")["status"]?.stringValue == "cancelled")
        // The second run is cancelled too, so SIGTERM does not wait out its minute-long step.
        _ = try await system.call(.PATCH, "/v1/runs/\(nextID)", json: ["status": "cancelled"], expect: 200)
        let idle = await eventually(timeout: .seconds(5)) { system.agentLog.contains("run.status=cancelled") }
        #expect(idle)
        #expect(await system.stopAgent() == 0)
    }

    @Test func computerAPIRelaysActionsToTheMachine() async throws {
        try await System.with(width: 1024, height: 768) { system in try await relayComputerActions(system) }
    }

    func relayComputerActions(_ system: System) async throws {
        let machineID = try await system.join()
        try await system.startAgent(machineID: machineID)
        let size = try await system.get("/v1/computer/\(machineID)/display/dimensions")
        #expect(size["width"]?.intValue == 1024 && size["height"]?.intValue == 768)
        let moved = try await system.request(
            .POST, "/v1/computer/\(machineID)/input/mouse/move", json: ["x": 200, "y": 150])
        #expect(moved.status == 204)
        let position = try await system.get("/v1/computer/\(machineID)/input/mouse/position")
        #expect(position["x"]?.intValue == 200 && position["y"]?.intValue == 150)
        let shot = try await system.request(.GET, "/v1/computer/\(machineID)/display/screenshot?width=512&height=384")
        #expect(shot.status == 200 && shot.contentType == "image/png")
        #expect(Array(shot.body.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let shell = try await system.call(
            .POST, "/v1/computer/\(machineID)/shell/exec", json: ["command": "echo hello; echo oops >&2; exit 3"],
            expect: 200)
        #expect(shell["stdout"]?.stringValue == "hello\n" && shell["stderr"]?.stringValue == "oops\n")
        #expect(shell["exit_code"]?.intValue == 3 && shell["timeout_reached"]?.boolValue == false)
        let content = Data("Zoë's chart ✓".utf8).base64EncodedString()
        _ = try await system.call(
            .POST, "/v1/computer/\(machineID)/fs/write", json: ["path": "~/chart.txt", "content": .string(content)],
            expect: 200)
        let read = try await system.get("/v1/computer/\(machineID)/fs/read?path=~/chart.txt")
        #expect(read["content"]?.stringValue == content)
        let listing = try await system.get("/v1/computer/\(machineID)/fs/list?path=~")
        let names = listing["entries"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? []
        #expect(names.contains("chart.txt"))
        let outside = try await system.request(.GET, "/v1/computer/\(machineID)/fs/read?path=/etc/passwd")
        #expect(outside.status == 400)
        // A machine held by a session takes commands only from callers that name the session.
        let workflow = try await system.call(.POST, "/v1/workflows", json: ["main_prompt": "hold"], expect: 201)
        _ = try await system.call(
            .POST, "/v1/trajectories",
            json: [
                "workflow_id": workflow["id"] ?? .null, "trajectory_data": [["func_name": "wait", "args": [0.1]]],
                "dimensions": ["width": 1024, "height": 768], "is_approved": true,
            ], expect: 201)
        let opener = try await system.call(
            .POST, "/v1/runs", json: ["workflow_id": workflow["id"] ?? .null, "start_session": true], expect: 201)
        let session = try #require(opener["session_id"]?.stringValue)
        _ = try await system.waitForRun(try #require(opener["id"]?.stringValue))
        let refused = try await system.request(.GET, "/v1/computer/\(machineID)/display/dimensions")
        #expect(refused.status == 409)
        let allowed = try await system.request(
            .GET, "/v1/computer/\(machineID)/display/dimensions", headers: [("X-Cyberdesk-Session-Id", session)])
        #expect(allowed.status == 200)
        _ = try await system.call(
            .PATCH, "/v1/machines/\(machineID)", json: ["reserved_session_id": .null], expect: 200)
        let badKey = try await system.request(
            .POST, "/v1/computer/\(machineID)/input/keyboard/key", json: ["text": "ctrlx"])
        #expect(badKey.status == 400, "\(system.agentLog.suffix(3000))")
        #expect(String(decoding: badKey.body, as: UTF8.self).contains("ctrlx"))
        #expect(await system.stopAgent() == 0)
        let offline = try await system.request(.GET, "/v1/computer/\(machineID)/display/dimensions")
        #expect(offline.status == 503)
    }

    // An agent killed (kill -9) or restarted (SIGTERM) mid-run: FaultTests, which also checks
    // the X server's keyboard and counts what was typed.

    @Test func aDeletedMachineStopsItsAgentWithAClearStatus() async throws {
        try await System.with { system in
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            _ = try await system.call(.DELETE, "/v1/machines/\(machineID)", expect: 204)
            let exit = await system.waitAgent()
            #expect(exit == 78, "\(system.agentLog.suffix(2000))")
            let status = try await runProcess(
                agentExecutable, ["status", "--state-dir", system.stateDir], environment: system.agentEnvironment)
            let report = try JSONDecoder().decode(JSONValue.self, from: status.stdout).objectValue ?? [:]
            #expect(report["state"]?.stringValue == "revoked")
            #expect((report["last_error"]?.stringValue ?? "").contains("cyberdesk-agent join"))
        }
    }
}
