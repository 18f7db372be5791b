import ControlPlane
import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

/// What a customer sees when a model-performed run goes wrong (PLANNER.md): each case ends
/// the run with an error that names the model configuration and the cause, and nothing is
/// retried forever. The real agent on Xvfb, the real server, the scripted model.
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
struct PromptRunFailureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var script: JSONValue
        /// Extra configuration fields (`timeout_seconds`, `max_retries`, a wrong `api_key`...).
        var configuration: JSONObject = [:]
        var status: String
        var error: String
        var testDescription: String { name }
    }

    static let click: JSONValue = ["click": ["color": "#ffd700"]]

    /// A model configuration for the scripted model; returns its id.
    static func configure(_ system: System, model: ScriptedModel, fields: JSONObject = [:]) async throws -> String {
        var params: JSONObject = ["base_url": .string(model.url)]
        params.merge(fields["additional_params"]?.objectValue ?? [:]) { $1 }
        var configuration: JSONObject = [
            "name": "scripted", "provider": "openai", "model": "scripted-cua-1", "api_key": .string(model.apiKey),
            "additional_params": .object(params),
        ]
        for (key, value) in fields where key != "additional_params" { configuration[key] = value }
        let created = try await system.call(
            .POST, "/v1/model-configurations", json: .object(configuration), expect: 201)
        return try #require(created["id"]?.stringValue)
    }

    static let cases: [Case] = [
        Case(
            name: "a refused key (401) is not retried", script: ["actions": [click]],
            configuration: ["api_key": "sk-wrong-key"], status: "error", error: "the API key was refused"),
        Case(
            name: "429 with retry-after is retried, then the run succeeds",
            script: [
                "actions": [["end": "nothing to do"]],
                "faults": [["status": 429, "times": 2, "headers": ["retry-after": "1"]]],
            ],
            status: "success", error: ""),
        Case(
            name: "5xx on every retry ends the run",
            script: ["actions": [click], "faults": [["status": 503, "times": 5]]],
            configuration: ["max_retries": 1], status: "error", error: "HTTP 503 from the model"),
        Case(
            name: "a model that does not answer in time", script: ["actions": [["delay_seconds": 20]]],
            configuration: ["timeout_seconds": 1, "max_retries": 0], status: "error", error: "no answer within 1"),
        Case(
            name: "malformed tool calls end the run after three answers",
            script: ["actions": [], "forever": ["malformed": true]], status: "error",
            error: "3 answers in a row with only invalid tool calls"),
        Case(
            name: "an unknown tool is told to the model, then ends the run",
            script: ["actions": [], "forever": ["unknown_tool": "frobnicate"]], status: "error",
            error: "unknown tool 'frobnicate'"),
        Case(
            name: "a model that never ends is stopped",
            script: ["actions": [], "forever": ["screenshot": true]], status: "error",
            error: "repeated the same action 5 times on an unchanged screen"),
        Case(
            name: "the step limit", script: ["actions": [], "forever": ["key": "shift"]],
            configuration: ["additional_params": ["max_steps": 3]], status: "error",
            error: "did not finish within 3 steps"),
    ]

    @Test(arguments: cases)
    func failure(_ testCase: Case) async throws {
        let model = try await ScriptedModel(script: testCase.script)
        defer { Task { await model.stop() } }
        try await System.with { system in
            let xterm = try await XtermCat(on: system.xvfb, resources: ["XTerm*background: #ffd700"], echo: false)
            defer { xterm.remove() }
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            var fields = testCase.configuration
            fields["provider"] = "anthropic"
            let modelID = try await Self.configure(system, model: model, fields: fields)
            let workflowID = try #require(
                try await system.call(.POST, "/v1/workflows", json: ["main_prompt": "Click the note"], expect: 201)[
                    "id"]?
                    .stringValue)
            let run = try await system.call(
                .POST, "/v1/runs",
                json: [
                    "workflow_id": .string(workflowID), "main_agent_model_id": .string(modelID),
                    "sensitive_input_values": ["password": .string(System.secret)],
                ], expect: 201)
            let runID = try #require(run["id"]?.stringValue)
            let ended = try await system.waitForRun(runID, timeout: .seconds(90))
            let errors = ended["error"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(ended["status"]?.stringValue == testCase.status, "\(errors)\n\(system.agentLog.suffix(2000))")
            if !testCase.error.isEmpty {
                #expect(errors.contains { $0.contains(testCase.error) && $0.contains("'scripted'") }, "\(errors)")
            }
            #expect(await system.stopAgent() == 0)
        }
    }

    /// `/validate` makes one real request to the configured endpoint (the scripted model): a
    /// wrong key is an auth error, the right one is valid. The organization's provider key is
    /// never sent to a configuration's own host: only configurations of the provider's API fall
    /// back to it.
    @Test func validateAModelConfiguration() async throws {
        let model = try await ScriptedModel(script: ["actions": []])
        defer { Task { await model.stop() } }
        try await System.with { system in
            let modelID = try await Self.configure(
                system, model: model, fields: ["provider": "anthropic", "api_key": "sk-wrong"])
            let path = "/v1/provider-credentials/anthropic/validate?model_configuration_id=\(modelID)"
            for (key, valid) in [("sk-wrong", false), (model.apiKey, true)] {
                _ = try await system.call(
                    .PATCH, "/v1/model-configurations/\(modelID)", json: ["api_key": .string(key)], expect: 200)
                let before = model.requests.count
                let answer = try await system.call(.POST, path, expect: 200)
                #expect(answer["ok"]?.boolValue == valid, "\(answer)")
                #expect(model.requests.count == before + 1, "validate makes exactly one request")
                if !valid {
                    #expect(answer["checks"]?.arrayValue?.first?.objectValue?["is_auth_error"]?.boolValue == true)
                }
            }
            // Without a key of its own, a configuration on another host does not get the
            // organization's key for the provider.
            _ = try await system.call(
                .PUT, "/v1/provider-credentials/anthropic", json: ["api_key": .string(model.apiKey)], expect: 200)
            _ = try await system.call(
                .PATCH, "/v1/model-configurations/\(modelID)", json: ["clear_api_key": true], expect: 200)
            let keyless = try await system.call(.POST, path, expect: 200)
            #expect(keyless["ok"]?.boolValue == false, "\(keyless)")
            system.scanAfterwards(for: model.apiKey)
        }
    }

    /// Sessions and pins schedule model-performed runs as they do replays: a session's runs go to
    /// its machine one after another.
    @Test func sessionsAndPins() async throws {
        let model = try await ScriptedModel(script: ["actions": [["end": "done"]]])
        defer { Task { await model.stop() } }
        try await System.with { system in
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let modelID = try await Self.configure(system, model: model)
            let workflowID = try #require(
                try await system.call(
                    .POST, "/v1/workflows",
                    json: ["main_prompt": "Look", "model_metadata": ["main_agent_model_id": .string(modelID)]],
                    expect: 201)["id"]?.stringValue)
            let first = try await system.call(
                .POST, "/v1/runs",
                json: ["workflow_id": .string(workflowID), "machine_id": .string(machineID), "start_session": true],
                expect: 201)
            let sessionID = try #require(first["session_id"]?.stringValue)
            let second = try await system.call(
                .POST, "/v1/runs",
                json: [
                    "workflow_id": .string(workflowID), "session_id": .string(sessionID), "release_session_after": true,
                ],
                expect: 201)
            for run in [first, second] {
                let ended = try await system.waitForRun(try #require(run["id"]?.stringValue))
                #expect(ended["status"]?.stringValue == "success", "\(ended["error"] ?? .null)")
                #expect(ended["machine_id"]?.stringValue == machineID)
                #expect(ended["session_id"]?.stringValue == sessionID)
            }
        }
    }

    /// A prompt-only workflow with no model anywhere fails at once, saying what to set.
    @Test func noModelAnywhere() async throws {
        try await System.with { system in
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let workflowID = try #require(
                try await system.call(.POST, "/v1/workflows", json: ["main_prompt": "Open the chart"], expect: 201)[
                    "id"]?
                    .stringValue)
            let run = try await system.call(.POST, "/v1/runs", json: ["workflow_id": .string(workflowID)], expect: 201)
            let ended = try await system.waitForRun(try #require(run["id"]?.stringValue))
            #expect(ended["status"]?.stringValue == "error")
            let errors = ended["error"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(
                errors.first?.contains(
                    "no approved trajectory and no model to perform its prompt: approve a trajectory, or set "
                        + "model_metadata.main_agent_model_id") == true, "\(errors)")
        }
    }

    /// Cancelling while the model thinks stops the run at once; the machine is free again.
    @Test func cancelWhileTheModelThinks() async throws {
        let model = try await ScriptedModel(script: ["actions": [["delay_seconds": 60]]])
        defer { Task { await model.stop() } }
        try await System.with { system in
            let machineID = try await system.join()
            try await system.startAgent(machineID: machineID)
            let modelID = try await Self.configure(system, model: model)
            let workflowID = try #require(
                try await system.call(.POST, "/v1/workflows", json: ["main_prompt": "Wait"], expect: 201)["id"]?
                    .stringValue)
            let run = try await system.call(
                .POST, "/v1/runs", json: ["workflow_id": .string(workflowID), "main_agent_model_id": .string(modelID)],
                expect: 201)
            let runID = try #require(run["id"]?.stringValue)
            let thinking = await eventually(timeout: .seconds(20)) { model.requests.count == 1 }
            #expect(thinking, "\(system.agentLog.suffix(2000))")
            _ = try await system.call(.PATCH, "/v1/runs/\(runID)", json: ["status": "cancelled"], expect: 200)
            // The agent stops and reports within the second; the machine takes work again.
            let idle = await eventually(timeout: .seconds(10)) {
                system.agentLog.contains("run completed") && system.agentLog.contains("cancelled")
            }
            #expect(idle, "\(system.agentLog.suffix(2000))")
            let final = try await system.get("/v1/runs/\(runID)")
            #expect(final["status"]?.stringValue == "cancelled")
            #expect(
                model.requests.count == 1, "the model was asked again after the cancel \(system.agentLog.suffix(1500))")
        }
    }
}
