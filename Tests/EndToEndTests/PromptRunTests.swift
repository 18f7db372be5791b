import ControlPlane
import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

/// Prompt-only workflows (PLANNER.md) end to end: the real agent on Xvfb with a real xterm,
/// the server calling a model over HTTP, and the scripted computer-use model standing in
/// for the vendor (it finds the xterm by its colour in the screenshots it is sent).
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
struct PromptRunTests {
    static let secret = System.secret
    /// The xterm's background: what the scripted model looks for.
    static let noteColour = "#ffd700"
    static let prompt =
        "Click the yellow note window, type the patient's name «{patient}» and press Enter, then type the EHR "
        + "password «{$ehr_password}» and press Enter. Report the patient's name as the output «patient»."
    static let script: JSONValue = [
        "actions": [
            ["click": ["color": .string(noteColour)]],
            ["type": ["quoted": 0]],
            ["key": "Return"],
            ["type": ["quoted": 1]],
            ["key": "Return"],
            ["tool": "set_output", "input": ["key": ["quoted": 2], "value": ["quoted": 0]]],
            ["end": "The patient's name and the password are entered."],
        ]
    ]

    /// A 1x1 PNG.
    static let promptImage: [UInt8] = Array(
        Data(
            base64Encoded:
                "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4f50BAASvAdfA0BA+AAAAAElFTkSuQmCC"
        )!)

    @Test(arguments: ["anthropic", "openai"])
    func promptOnlyWorkflowRunsThroughTheModelThenReplaysWithoutIt(provider: String) async throws {
        let model = try await ScriptedModel(script: Self.script)
        defer { Task { await model.stop() } }
        try await System.with { system in
            try await promptRun(system, model: model, provider: provider)
        }
        // The prompt image went to the model in place: after the prompt's text, before the
        // closing text, as an image.
        let first = String(decoding: try #require(model.requests.first), as: UTF8.self)
        let image = try #require(first.range(of: Data(Self.promptImage).base64EncodedString()))
        let before = try #require(first.range(of: "The note window looks like this:"))
        let after = try #require(first.range(of: "(yellow)."))
        #expect(before.upperBound < image.lowerBound && image.upperBound < after.lowerBound)
        // Nothing that reached the model carried the secret, in any encoding.
        let forms = SecretForms(Self.secret)
        let requests = model.requests
        #expect(requests.count >= 6, "\(model.log.suffix(2000))")
        for (index, body) in requests.enumerated() {
            #expect(forms.found(in: body) == nil, "request \(index) to the model carried the secret")
        }
        // The placeholder did: the model typed it, the machine filled it in.
        #expect(requests.contains { String(decoding: $0, as: UTF8.self).contains("{$ehr_password}") })
    }

    func promptRun(_ system: System, model: ScriptedModel, provider: String) async throws {
        let xterm = try await XtermCat(
            on: system.xvfb, resources: ["XTerm*background: \(Self.noteColour)"], geometry: "80x20+300+200",
            echo: false)
        defer { xterm.remove() }
        let machineID = try await system.join()
        try await system.startAgent(machineID: machineID)

        let configuration = try await system.call(
            .POST, "/v1/model-configurations",
            json: [
                "name": .string("scripted \(provider)"), "provider": .string(provider), "model": "scripted-cua-1",
                "api_key": .string(model.apiKey), "is_computer_use_model": true,
                "additional_params": ["base_url": .string(model.url)],
            ], expect: 201)
        let modelID = try #require(configuration["id"]?.stringValue)
        #expect(configuration["api_key"] == nil)
        // A prompt image: sent to the model as an image, in place, after the text before it.
        let boundary = "b0undary-\(UUID().uuidString)"
        let upload =
            Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.png\"\r\nContent-Type: image/png\r\n\r\n"
                    .utf8)
            + Self.promptImage + Array("\r\n--\(boundary)--\r\n".utf8)
        let uploaded = try await system.api.send(
            .POST, "/v1/workflows/prompt-image", body: upload, contentType: "multipart/form-data; boundary=\(boundary)")
        #expect(uploaded.status == 201, "\(String(decoding: uploaded.body, as: UTF8.self))")
        let reference = try #require(
            try JSONDecoder().decode(JSONValue.self, from: Data(uploaded.body)).objectValue?["supabase_url"]?
                .stringValue)
        let prompt = Self.prompt + " The note window looks like this: <img src=\"\(reference)\"> (yellow)."
        let workflow = try await system.call(
            .POST, "/v1/workflows",
            json: [
                "name": "enter patient", "main_prompt": .string(prompt),
                "output_schema": .string(#"{"type": "object", "required": ["patient"]}"#),
                "model_metadata": ["main_agent_model_id": .string(modelID)],
            ], expect: 201)
        let workflowID = try #require(workflow["id"]?.stringValue)

        // 1. The model performs the run.
        let patient = "Łucja Müller-Øberg"
        let first = try await system.call(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(workflowID), "input_values": ["patient": .string(patient)],
                "sensitive_input_values": ["ehr_password": .string(Self.secret)],
            ], expect: 201)
        let firstID = try #require(first["id"]?.stringValue)
        let run = try await system.waitForRun(firstID, timeout: .seconds(120))
        #expect(
            run["status"]?.stringValue == "success",
            "\(run["error"] ?? .null)\n\(system.agentLog.suffix(3000))\n\(model.log.suffix(2000))")
        let typed = await xterm.waitForText(endingWith: "\(Self.secret)\n")
        #expect(typed == "\(patient)\n\(Self.secret)\n")
        #expect(run["output_data"]?.objectValue?["patient"]?.stringValue == patient)
        let usage = try #require(run["usage_metadata"]?.objectValue)
        #expect(usage["total_agentic_steps"]?.intValue == 6)
        #expect(usage["total_cached_steps"]?.intValue == 0)
        let perModel = try #require(usage["models"]?.objectValue?[modelID]?.objectValue)
        #expect(perModel["calls"]?.intValue == 7)
        #expect((perModel["input_tokens"]?.intValue ?? 0) > 0)
        // The history shows what the model did, with screenshots by id, never inline.
        let history = run["run_message_history"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let turns = history.filter { $0["type"]?.stringValue == "model_turn" }
        #expect(turns.count == 7)
        #expect(turns.allSatisfy { $0["image_id"]?.stringValue != nil })
        #expect(run["run_message_history"]?.compactJSON.contains("iVBORw0KGgo") == false)

        // 2. What it did is a trajectory: inputs written back as templates, secrets as
        // placeholders, a checkpoint before each click and the typing after it.
        let trajectory = try await system.get("/v1/runs/\(firstID)/trajectory")
        let trajectoryID = try #require(trajectory["id"]?.stringValue)
        let data = trajectory["trajectory_data"]?.arrayValue ?? []
        let steps = data.compactMap(\.objectValue)
        try #require(steps.count == 6, "\(data)")
        #expect(
            steps.map { $0["func_name"]?.stringValue ?? "" } == ["click", "type", "key", "type", "key", "set_output"])
        #expect(steps[1]["kwargs"]?.objectValue?["text"]?.stringValue == "{patient}")
        #expect(steps[3]["kwargs"]?.objectValue?["text"]?.stringValue == "{$ehr_password}")
        for index in [0, 1] {
            let checkpoint = try #require(steps[index]["checkpoint"]?.objectValue, "step \(index) has no checkpoint")
            let png = try #require(checkpoint["png"]?.stringValue.flatMap { Data(base64Encoded: $0) })
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            #expect(checkpoint["region"]?.arrayValue?.count == 4)
        }
        #expect(steps[2]["checkpoint"] == nil)
        #expect(trajectory["is_approved"]?.boolValue == false)
        #expect(trajectory["dimensions"]?.objectValue?["width"]?.intValue == 1280)

        let generated = try await system.call(.POST, "/v1/runs/\(firstID)/generate-trajectory", expect: 200)
        #expect(generated["id"]?.stringValue == trajectoryID)
        #expect(generated["is_generated"]?.boolValue == true)
        _ = try await system.call(.PATCH, "/v1/trajectories/\(trajectoryID)", json: ["is_approved": true], expect: 200)

        // 3. Approved, it is replayed: no model call, the new inputs typed.
        let calls = model.requests.count
        let second = try await system.call(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(workflowID), "input_values": ["patient": "Ada Lovelace"],
                "sensitive_input_values": ["ehr_password": .string(Self.secret)],
            ], expect: 201)
        let secondID = try #require(second["id"]?.stringValue)
        let replayed = try await system.waitForRun(secondID, timeout: .seconds(60))
        #expect(
            replayed["status"]?.stringValue == "success",
            "\(replayed["error"] ?? .null)\n\(system.agentLog.suffix(3000))")
        #expect(model.requests.count == calls, "the replay called the model")
        #expect(replayed["output_data"]?.objectValue?["patient"]?.stringValue == "Ada Lovelace")
        let replayUsage = try #require(replayed["usage_metadata"]?.objectValue)
        #expect(replayUsage["total_cached_steps"]?.intValue == 6)
        #expect(replayUsage["total_agentic_steps"]?.intValue == 0)

        let replayTyped = await xterm.waitForText(endingWith: "Ada Lovelace\n\(Self.secret)\n")
        #expect(replayTyped == typed + "Ada Lovelace\n\(Self.secret)\n")

        // The model's API key is in no log, file or answer of the system.
        system.scanAfterwards(for: model.apiKey)
    }
}
