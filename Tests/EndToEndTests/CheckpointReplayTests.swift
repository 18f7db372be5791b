import ControlPlane
import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

/// Replay that looks before it acts (STEPS.md, Checkpoints), end to end: a model run records a
/// trajectory with checkpoints (the scripted model finds the button by its colour), then the
/// screen changes and the approved trajectory is replayed by the real agent.
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
struct CheckpointReplayTests {
    static let gold: UInt = 0xFFD700
    static let frame = (x: 300, y: 200, width: 240, height: 120)
    static let script: JSONValue = [
        "actions": [["click": ["color": "#ffd700"]], ["type": ["quoted": 0]], ["end": "typed"]]
    ]

    /// A button: gold with a dark label, so its crop is not a flat colour that matches anywhere.
    static func button(on system: System, at x: Int, _ y: Int, colour: UInt = gold) throws -> TestWindow {
        let window = try TestWindow(
            display: system.display, x: x, y: y, width: frame.width, height: frame.height, background: colour)
        paintBands(window)
        return window
    }

    /// The button's label (X keeps no backing store: a moved or re-mapped window shows
    /// only its background until it paints again, as real applications do on Expose).
    static func paintBands(_ window: TestWindow) {
        // A label inside the gold (the gold stays one region, so the model clicks the centre).
        window.paint([
            (x: 90, y: 50, width: 60, height: 20, rgb: 0x202020), (x: 100, y: 56, width: 12, height: 8, rgb: 0xF0F0F0),
        ])
    }

    /// Records the trajectory through a model run and approves it; returns the workflow id.
    static func recordTrajectory(_ system: System, model: ScriptedModel, button: TestWindow) async throws -> String {
        let configuration = try await system.call(
            .POST, "/v1/model-configurations",
            json: [
                "name": "scripted", "provider": "anthropic", "model": "scripted-cua-1",
                "api_key": .string(model.apiKey),
                "additional_params": ["base_url": .string(model.url)],
            ], expect: 201)
        let workflow = try await system.call(
            .POST, "/v1/workflows",
            json: ["main_prompt": "Click the gold button and type «{patient}»", "name": "button"], expect: 201)
        let workflowID = try #require(workflow["id"]?.stringValue)
        let run = try await system.call(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(workflowID), "input_values": ["patient": "ada"],
                "main_agent_model_id": .string(try #require(configuration["id"]?.stringValue)),
            ], expect: 201)
        let runID = try #require(run["id"]?.stringValue)
        let ended = try await system.waitForRun(runID)
        #expect(
            ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)\n\(system.agentLog.suffix(2000))")
        let trajectory = try await system.get("/v1/runs/\(runID)/trajectory")
        let id = try #require(trajectory["id"]?.stringValue)
        _ = try await system.call(.PATCH, "/v1/trajectories/\(id)", json: ["is_approved": true], expect: 200)
        _ = button.collect(atLeast: 6, timeout: 5)
        button.reset()
        return workflowID
    }

    /// A system with the button on screen, an agent, and the button's trajectory recorded by a
    /// model run and approved.
    static func withRecordedButton(
        _ body: (System, ScriptedModel, TestWindow, String) async throws -> Void
    ) async throws {
        let model = try await ScriptedModel(script: script)
        defer { Task { await model.stop() } }
        try await System.with { system in
            let button = try Self.button(on: system, at: frame.x, frame.y)
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let workflowID = try await recordTrajectory(system, model: model, button: button)
            try await body(system, model, button, workflowID)
        }
    }

    static func replay(_ system: System, workflowID: String, patient: String) async throws -> JSONObject {
        let run = try await system.call(
            .POST, "/v1/runs",
            json: ["workflow_id": .string(workflowID), "input_values": ["patient": .string(patient)]],
            expect: 201)
        return try await system.waitForRun(try #require(run["id"]?.stringValue), timeout: .seconds(60))
    }

    /// What each check found: kept in the step's event when it matched (the step acted), in a
    /// `checkpoint` event of its own when it did not (the step did not act).
    static func checkpointEvents(_ run: JSONObject) -> [JSONObject] {
        (run["run_message_history"]?.arrayValue ?? []).compactMap(\.objectValue).compactMap { event in
            if event["type"] == "checkpoint" { return event }
            return event["type"] == "step" ? event["checkpoint"]?.objectValue : nil
        }
    }

    static func typed(_ events: [TestWindow.Event]) -> String {
        String(
            events.filter { $0.kind == .keyPress }.compactMap { UnicodeScalar(UInt32($0.keysym)).map(Character.init) })
    }

    @Test func aTargetMovedWithin32PixelsIsStillHitAndAnUnchangedOneNeedsNoModel() async throws {
        try await Self.withRecordedButton { system, model, button, workflowID in
            let calls = model.requests.count

            // Unchanged: both checks match at once, no model call.
            let same = try await Self.replay(system, workflowID: workflowID, patient: "bob")
            #expect(same["status"]?.stringValue == "success", "\(same["error"] ?? .null)")
            let checks = Self.checkpointEvents(same)
            #expect(checks.count == 2)
            #expect(checks.allSatisfy { $0["matched"] == true && $0["offset"] == [0, 0] }, "\(checks)")
            #expect(Self.typed(button.collect(atLeast: 6)) == "bob")
            button.reset()

            // Moved by (+12, -8): found there, and the click moves with it.
            button.move(toX: Self.frame.x + 12, y: Self.frame.y - 8)
            Self.paintBands(button)
            let moved = try await Self.replay(system, workflowID: workflowID, patient: "cy")
            #expect(moved["status"]?.stringValue == "success", "\(moved["error"] ?? .null)")
            #expect(Self.checkpointEvents(moved).first?["offset"] == [12, -8], "\(Self.checkpointEvents(moved))")
            let events = button.collect(atLeast: 6)
            let press = try #require(events.first { $0.kind == .buttonPress })
            #expect(abs(press.x - (Self.frame.x + Self.frame.width / 2 + 12)) <= 1, "\(press)")
            #expect(abs(press.y - (Self.frame.y + Self.frame.height / 2 - 8)) <= 1, "\(press)")
            #expect(Self.typed(events) == "cy")
            #expect(model.requests.count == calls, "replays called the model")
        }
    }

    @Test func aChangedScreenStopsTheReplayAndTheDecoyGetsNothing() async throws {
        try await Self.withRecordedButton { system, model, button, workflowID in

            // The button moved far away; a window of another colour sits where it was.
            button.move(toX: 900, y: 600)
            Self.paintBands(button)
            let decoy = try Self.button(on: system, at: Self.frame.x, Self.frame.y, colour: 0x3366CC)
            let failed = try await Self.replay(system, workflowID: workflowID, patient: "mallory")
            #expect(failed["status"]?.stringValue == "task_failed")
            #expect(failed["error"]?.arrayValue?.first?.stringValue == "checkpoint of step 0 (click) did not match")
            let checks = Self.checkpointEvents(failed)
            #expect(checks.count == 1 && checks[0]["matched"] == false)
            let history = (failed["run_message_history"]?.arrayValue ?? []).compactMap(\.objectValue)
            #expect(history.contains { $0["type"] == "final_screenshot" && $0["image_id"] != nil })
            #expect(!history.contains { $0["type"] == "step" }, "a step acted on a changed screen")
            // Nothing reached the decoy: no click, no key.
            #expect(decoy.settle(quiet: 0.5).filter { $0.kind == .buttonPress || $0.kind == .keyPress }.isEmpty)
        }
    }

    /// The run names a model: when the checkpoint fails, the model gets the rest of the task,
    /// finds the button where it went, and the task is done exactly once.
    @Test func aTargetMovedFarIsFoundByTheModel() async throws {
        try await Self.withRecordedButton { system, model, button, workflowID in
            let configurations = try JSONDecoder().decode(
                JSONValue.self, from: Data(try await system.api.request(.GET, "/v1/model-configurations").body))
            let configurationID = try #require(configurations.arrayValue?.first?.objectValue?["id"]?.stringValue)
            let calls = model.requests.count

            button.move(toX: 800, y: 500)
            Self.paintBands(button)
            let decoy = try Self.button(on: system, at: Self.frame.x, Self.frame.y, colour: 0x3366CC)
            let run = try await system.call(
                .POST, "/v1/runs",
                json: [
                    "workflow_id": .string(workflowID), "input_values": ["patient": "eve"],
                    "main_agent_model_id": .string(configurationID),
                ], expect: 201)
            let runID = try #require(run["id"]?.stringValue)
            let ended = try await system.waitForRun(runID, timeout: .seconds(90))
            #expect(
                ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)\n\(system.agentLog.suffix(2000))"
            )
            #expect(model.requests.count > calls, "the model took over")
            let events = button.collect(atLeast: 6)
            #expect(Self.typed(events) == "eve", "typed exactly once: \(events)")
            #expect(events.filter { $0.kind == .buttonPress }.count == 1)
            #expect(decoy.settle(quiet: 0.5).filter { $0.kind == .buttonPress || $0.kind == .keyPress }.isEmpty)
            let usage = try #require(ended["usage_metadata"]?.objectValue)
            #expect(usage["total_cached_steps"]?.intValue == 0)
            #expect(usage["total_agentic_steps"]?.intValue == 2)
            // What the model did is a new trajectory of the run, not approved.
            let recorded = try await system.get("/v1/runs/\(runID)/trajectory")
            #expect(recorded["is_approved"]?.boolValue == false)
            #expect(recorded["trajectory_data"]?.arrayValue?.count == 2)
        }
    }

    /// Recorded at 1280x800, replayed on a 1920x1200 screen showing the same scene 1.5 times
    /// larger: the checkpoint is matched with the same scaling as the coordinates.
    @Test func replayOnAScreenOfAnotherSize() async throws {
        let model = try await ScriptedModel(script: Self.script)
        defer { Task { await model.stop() } }
        var recorded: JSONObject = [:]
        try await System.with { system in
            let button = try Self.button(on: system, at: Self.frame.x, Self.frame.y)
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let workflowID = try await Self.recordTrajectory(system, model: model, button: button)
            recorded = try await system.get("/v1/workflows/\(workflowID)/latest-trajectory")
        }
        let steps = try #require(recorded["trajectory_data"]?.arrayValue)
        #expect(recorded["dimensions"] == ["width": 1280, "height": 800])
        try await System.with(width: 1920, height: 1200) { system in
            let scale = 1.5
            func scaled(_ value: Int) -> Int { Int((Double(value) * scale).rounded()) }
            let button = try TestWindow(
                display: system.display, x: scaled(Self.frame.x), y: scaled(Self.frame.y),
                width: scaled(Self.frame.width), height: scaled(Self.frame.height), background: Self.gold)
            button.paint([
                (x: scaled(90), y: scaled(50), width: scaled(60), height: scaled(20), rgb: 0x202020),
                (x: scaled(100), y: scaled(56), width: scaled(12), height: scaled(8), rgb: 0xF0F0F0),
            ])
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let workflow = try await system.call(
                .POST, "/v1/workflows", json: ["main_prompt": "Click the gold button and type «{patient}»"], expect: 201
            )
            let workflowID = try #require(workflow["id"]?.stringValue)
            _ = try await system.call(
                .POST, "/v1/trajectories",
                json: [
                    "workflow_id": .string(workflowID), "trajectory_data": .array(steps),
                    "dimensions": ["width": 1280, "height": 800], "is_approved": true,
                ], expect: 201)
            let ended = try await Self.replay(system, workflowID: workflowID, patient: "fay")
            #expect(ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)")
            let checks = Self.checkpointEvents(ended)
            #expect(checks.count == 2 && checks.allSatisfy { $0["matched"] == true }, "\(checks)")
            let events = button.collect(atLeast: 6)
            let press = try #require(events.first { $0.kind == .buttonPress })
            #expect(abs(press.x - scaled(Self.frame.x + Self.frame.width / 2)) <= 2, "\(press)")
            #expect(Self.typed(events) == "fay")
        }
    }

    @Test func aLateWindowIsWaitedForAndHit() async throws {
        try await Self.withRecordedButton { system, model, button, workflowID in

            button.setMapped(false)
            let run = try await system.call(
                .POST, "/v1/runs", json: ["workflow_id": .string(workflowID), "input_values": ["patient": "dee"]],
                expect: 201)
            try await Task.sleep(for: .seconds(3))
            button.setMapped(true)
            Self.paintBands(button)
            let ended = try await system.waitForRun(try #require(run["id"]?.stringValue))
            #expect(ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)")
            let first = try #require(Self.checkpointEvents(ended).first)
            #expect(first["matched"] == true)
            #expect((first["waited_ms"]?.doubleValue ?? 0) > 1000, "\(first)")
            #expect(Self.typed(button.collect(atLeast: 6)) == "dee")
        }
    }

    /// The workflow names a cache detection model (the scripted model answers `same_state` from
    /// the pixels of the crops it is sent). A changed label on the same button fails the pixel
    /// check, but the model says it is the same state: the replay goes on where it was recorded,
    /// with no main model. Another window where the button was is not the same: nothing acts.
    @Test func theCacheDetectionModelPassesAChangedLabelButNotAnotherWindow() async throws {
        try await Self.withRecordedButton { system, model, button, workflowID in
            let configurations = try JSONDecoder().decode(
                JSONValue.self, from: Data(try await system.api.request(.GET, "/v1/model-configurations").body))
            let configurationID = try #require(configurations.arrayValue?.first?.objectValue?["id"]?.stringValue)
            _ = try await system.call(
                .PATCH, "/v1/workflows/\(workflowID)",
                json: ["model_metadata": ["cache_detection_model_id": .string(configurationID)]], expect: 200)
            // One second per check instead of ten, so the misses are quick.
            let trajectory = try await system.get("/v1/workflows/\(workflowID)/latest-trajectory")
            let steps = try #require(trajectory["trajectory_data"]?.arrayValue).map { step -> JSONValue in
                guard var object = step.objectValue, var checkpoint = object["checkpoint"]?.objectValue else { return step }
                checkpoint["timeout"] = 1
                object["checkpoint"] = .object(checkpoint)
                return .object(object)
            }
            _ = try await system.call(
                .PATCH, "/v1/trajectories/\(try #require(trajectory["id"]?.stringValue))",
                json: ["trajectory_data": .array(steps)], expect: 200)
            func questions() -> Int { model.requests.filter { String(decoding: $0, as: UTF8.self).contains("same_state") }.count }
            let calls = model.requests.count

            // The label turned light: the pixels differ, the button is the same.
            button.paint([(x: 90, y: 50, width: 60, height: 20, rgb: 0xE8E8E8)])
            let relabelled = try await Self.replay(system, workflowID: workflowID, patient: "gus")
            #expect(relabelled["status"]?.stringValue == "success", "\(relabelled["error"] ?? .null)")
            let checks = Self.checkpointEvents(relabelled)
            #expect(checks.count == 4, "a miss and the step's own event, for each step: \(checks)")
            let history = (relabelled["run_message_history"]?.arrayValue ?? []).compactMap(\.objectValue)
            let answers = history.filter { $0["type"] == "same_screen" }
            #expect(answers.count == 2 && answers.allSatisfy { $0["same"] == true }, "\(answers)")
            let events = button.collect(atLeast: 6)
            #expect(Self.typed(events) == "gus")
            let press = try #require(events.first { $0.kind == .buttonPress })
            #expect(abs(press.x - (Self.frame.x + Self.frame.width / 2)) <= 1, "\(press)")
            #expect(model.requests.count == calls + 2 && questions() == 2, "only the two questions reached a model")
            let usage = try #require(relabelled["usage_metadata"]?.objectValue)
            #expect(usage["models"]?.objectValue?[configurationID]?.objectValue?["calls"]?.intValue == 2, "\(usage)")
            #expect(usage["total_cached_steps"]?.intValue == 2)
            button.reset()

            // Another window where the button was: not the same state, and no main model.
            button.move(toX: 900, y: 600)
            Self.paintBands(button)
            let decoy = try Self.button(on: system, at: Self.frame.x, Self.frame.y, colour: 0x3366CC)
            let failed = try await Self.replay(system, workflowID: workflowID, patient: "mallory")
            #expect(failed["status"]?.stringValue == "task_failed")
            #expect(failed["error"]?.arrayValue?.first?.stringValue == "checkpoint of step 0 (click) did not match")
            let refused = (failed["run_message_history"]?.arrayValue ?? []).compactMap(\.objectValue).filter {
                $0["type"] == "same_screen"
            }
            #expect(refused.count == 1 && refused[0]["same"] == false, "\(refused)")
            #expect(decoy.settle(quiet: 0.5).filter { $0.kind == .buttonPress || $0.kind == .keyPress }.isEmpty)
            #expect(questions() == 3)
        }
    }
}
