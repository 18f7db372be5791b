import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

/// `cyberdesk-agent record` end to end: a person (xdotool, real XTest input) does the task once
/// in an xterm while the recorder watches; the recording is uploaded, approved, and replayed
/// by the real agent with new input values and a new secret.
@Suite(
    .serialized,
    .enabled(
        if: XvfbServer.isAvailable && XvfbServer.executable("xdotool") != nil,
        "Xvfb or xdotool is not installed: run scripts/install-deps"))
struct RecordReplayTests {
    /// What the person types as the secret while recording (a password they know).
    static let recordedSecret = "Rec0rded-Pw#7"
    static let banner = "EHR sign-in"

    /// Records the sign-in in an xterm running cat, uploads it unapproved, checks the upload and
    /// approves it. Returns the workflow id.
    static func recordSignIn(_ system: System) async throws -> String {
        let workflow = try await system.call(
            .POST, "/v1/workflows", json: ["main_prompt": "Sign {patient} in", "name": "sign-in"], expect: 201)
        let workflowID = try #require(workflow["id"]?.stringValue)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("record-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secretFile = directory.appendingPathComponent("pw")
        try (recordedSecret + "\n").write(to: secretFile, atomically: true, encoding: .utf8)
        let keyFile = directory.appendingPathComponent("key")
        try system.adminKey.write(to: keyFile, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("sign-in.json")

        let xterm = try await XtermCat(on: system.xvfb, banner: banner, geometry: "80x24+0+0")
        let recorder = try ChildProcess(
            agentExecutable,
            [
                "record", "-o", output.path, "--input", "patient=ada", "--secret-file", "password=\(secretFile.path)",
                "--upload", "--workflow", workflowID, "--api-key-file", keyFile.path, "--server", system.url,
                "--name", "recorded sign-in",
            ], environment: ["DISPLAY": system.display])
        let started = await eventually(timeout: .seconds(30)) { recorder.log.contains("recording") }
        try #require(started, "record did not start: \(recorder.log)")
        // The person's pace: a pause before the click, between the click and typing. One
        // xdotool run per `type` (it takes every word after it as text).
        let runs = [
            ["mousemove", "100", "100", "sleep", "0.3", "click", "1", "sleep", "0.7"], ["type", "ada"], ["key", "Tab"],
            ["type", recordedSecret], ["key", "Return"], ["key", "ctrl+alt+shift+s"],
        ]
        for arguments in runs {
            let run = try await system.xvfb.run("xdotool", arguments)
            try #require(run.status == 0, "xdotool: \(run.stderr)")
        }
        let stopped = await eventually(timeout: .seconds(20)) { recorder.exitStatus != nil }
        if !stopped { recorder.signal(SIGKILL) }
        #expect(stopped, "the stop chord did not end the recording: \(recorder.log)")
        #expect(await recorder.wait() == 0, "\(recorder.log)")
        let typed = await xterm.waitForText(endingWith: "\n")
        // The recorder only watches: the stop chord reaches the xterm too (as Meta-Ctrl-S).
        #expect(typed.hasPrefix("ada\t\(recordedSecret)\n"), "\(typed.debugDescription)")
        xterm.remove()

        let list = try await system.get("/v1/trajectories?workflow_id=\(workflowID)")
        let uploaded = try #require(list["items"]?.arrayValue?.first?.objectValue, "\(list)")
        #expect(uploaded["is_approved"] == false)
        let steps = try Trajectory.validate(uploaded["trajectory_data"]?.arrayValue ?? [])
        #expect(
            steps == [
                .click(x: 100, y: 100, button: .left, clicks: 1), .type(text: "{patient}"),
                .key(text: "tab", down: nil),
                .type(text: "{$password}"), .key(text: "enter", down: nil),
            ])
        let id = try #require(uploaded["id"]?.stringValue)
        _ = try await system.call(.PATCH, "/v1/trajectories/\(id)", json: ["is_approved": true], expect: 200)
        return workflowID
    }

    /// The sign-in recording uploaded and approved, an agent joined and running, and a fresh
    /// xterm to type into; every file of the system is scanned for the recorded secret afterwards.
    static func prepareReplay(_ system: System) async throws -> (workflowID: String, xterm: XtermCat) {
        system.scanAfterwards(for: Self.recordedSecret)
        let workflowID = try await Self.recordSignIn(system)
        let machineID = try await system.join()
        try await system.startAgent(machineID: machineID)
        return (workflowID, try await XtermCat(on: system.xvfb, banner: Self.banner, geometry: "80x24+0+0"))
    }

    /// Replays the recording with `patient` and the test secret; returns the ended run.
    static func replay(_ system: System, workflowID: String, patient: String) async throws -> JSONObject {
        let run = try await system.call(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(workflowID), "input_values": ["patient": .string(patient)],
                "sensitive_input_values": ["password": .string(System.secret)],
            ], expect: 201)
        return try await system.waitForRun(try #require(run["id"]?.stringValue))
    }

    @Test("a recording replayed with new values into a fresh xterm types exactly")
    func replayTypesNewValues() async throws {
        try await System.with { system in
            let (workflowID, xterm) = try await Self.prepareReplay(system)
            let ended = try await Self.replay(system, workflowID: workflowID, patient: "Zoë Ångström")
            #expect(
                ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)\n\(system.agentLog.suffix(2000))"
            )
            #expect(await xterm.waitForText(endingWith: "\n") == "Zoë Ångström\t\(System.secret)\n")
        }
    }

    @Test("a recording replayed onto a changed screen stops at its first checkpoint without typing")
    func changedScreenStops() async throws {
        try await System.with { system in
            let (workflowID, xterm) = try await Self.prepareReplay(system)
            // Something else covers where the person clicked.
            let cover = try TestWindow(
                display: system.display, x: 20, y: 60, width: 200, height: 90, background: 0x3366CC)
            let ended = try await Self.replay(system, workflowID: workflowID, patient: "bob")
            #expect(ended["status"]?.stringValue == "task_failed")
            #expect(ended["error"]?.arrayValue?.first?.stringValue == "checkpoint of step 0 (click) did not match")
            #expect(cover.settle(quiet: 0.5).filter { $0.kind == .buttonPress || $0.kind == .keyPress }.isEmpty)
            #expect(((try? String(contentsOf: xterm.output, encoding: .utf8)) ?? "").isEmpty)
        }
    }
}
