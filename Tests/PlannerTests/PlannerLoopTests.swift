import CyberdeskAPI
import Foundation
import Planner
import Testing

/// The loop of a model-performed run, one `plan` call at a time, against an in-memory model
/// adapter that answers scripted turns (a stand-in at the vendor boundary for the loop's
/// logic; the adapters and the whole path are tested against the scripted model server).
@Suite("Planner loop")
struct PlannerLoopTests {
    /// Answers the scripted turns in order and keeps the requests.
    actor ScriptedTurns: ModelAdapter {
        var turns: [Result<ModelTurn, ModelError>]
        var requests: [ModelRequest] = []

        init(_ turns: [Result<ModelTurn, ModelError>]) { self.turns = turns }

        func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
            requests.append(request)
            guard !turns.isEmpty else {
                return ModelTurn(
                    text: "done", toolCalls: [], endedTurn: true, usage: .init(inputTokens: 1, outputTokens: 1))
            }
            return try turns.removeFirst().get()
        }

        func validate() async throws(ModelError) {}
    }

    static func turn(_ calls: (String, JSONObject)...) -> Result<ModelTurn, ModelError> {
        .success(
            ModelTurn(
                text: "",
                toolCalls: calls.enumerated().map {
                    ToolCall(id: "call_\($0.offset)", name: $0.element.0, input: $0.element.1)
                },
                endedTurn: calls.isEmpty, usage: TokenUsage(inputTokens: 100, outputTokens: 10)))
    }

    static let endpoint = ModelEndpoint(
        configurationID: "cfg_1", name: "local vlm", provider: .openai, model: "ui-tars", apiKey: nil)

    static func context(
        inputs: JSONObject = ["patient": "Zoë Ångström"], secrets: Set<String> = ["password"],
        check: @escaping @Sendable (JSONObject) -> [String] = { _ in [] }, limits: PlannerLimits = PlannerLimits(),
        digest: String = "screen-1"
    ) -> PlanContext {
        PlanContext(
            endpoint: endpoint, prompt: [.text("Enter the patient")], inputs: inputs, sensitiveNames: secrets,
            outputSchemaText: nil, checkOutput: check, limits: limits, elapsedSeconds: 1, screenshotDigest: digest,
            loadImage: { _ in [0x89, 0x50, 0x4E, 0x47] }, timestamp: "2026-12-02T00:00:00Z")
    }

    static func request(
        _ sequence: Int, results: [PlannedStepResult] = [], output: JSONObject = [:]
    ) -> PlanRequest {
        PlanRequest(
            leaseToken: "l", sequence: sequence, imageID: "img_\(sequence)",
            screen: DisplaySize(width: 1280, height: 800),
            imageSize: DisplaySize(width: 640, height: 400), pointer: PointerPosition(x: 10, y: 20), results: results,
            outputData: output, events: [])
    }

    @Test("coordinates map from the screenshot to the screen; typed inputs become templates in the trajectory")
    func mappingAndTrajectory() async throws {
        let model = ScriptedTurns([
            Self.turn(("computer", ["action": "left_click", "coordinate": [100, 50]])),
            Self.turn(
                ("computer", ["action": "type", "text": "Zoë Ångström"]),
                ("computer", ["action": "type", "text": "{$password} {x}"])),
        ])
        var state = PlannerState(configurationID: "cfg_1")
        let first = await PlannerLoop.advance(
            state: &state, request: Self.request(1), context: Self.context(), model: model)
        #expect(first.response.end == nil)
        #expect(
            first.response.steps == [
                ["func_name": "click", "kwargs": ["x": 201, "y": 101, "button": "left", "clicks": 1]]
            ])
        let requests = await model.requests
        #expect(requests[0].screen == DisplaySize(width: 640, height: 400))
        #expect(requests[0].tools.map(\.name).contains("set_output"))

        let checkpoint: JSONObject = [
            "region": [137, 69, 128, 64], "png": "iVBORw0KGgo=", "threshold": 0.05, "timeout": 10,
        ]
        let second = await PlannerLoop.advance(
            state: &state,
            request: Self.request(
                2, results: [PlannedStepResult(stepIndex: 0, status: "success", result: [:], checkpoint: checkpoint)]),
            context: Self.context(), model: model)
        #expect(second.response.steps.count == 2)
        // A secret placeholder stays for the machine to fill in; other braces are typed as they are.
        #expect(second.response.steps[1].objectValue?["kwargs"]?.objectValue?["text"] == "{$password} \\{x}")

        let third = await PlannerLoop.advance(
            state: &state,
            request: Self.request(
                3,
                results: [
                    PlannedStepResult(stepIndex: 1, status: "success", checkpoint: checkpoint),
                    PlannedStepResult(stepIndex: 2, status: "success"),
                ]), context: Self.context(), model: model)
        #expect(third.response.end == PlanEnd(status: .success, errors: []))
        #expect(state.trajectory.count == 3)
        #expect(state.trajectory[0].objectValue?["checkpoint"] == .object(checkpoint))
        #expect(state.trajectory[1].objectValue?["kwargs"]?.objectValue?["text"] == "{patient}")
        #expect(state.trajectory[2].objectValue?["kwargs"]?.objectValue?["text"] == "{$password} \\{x}")
        #expect(state.stepsExecuted == 3)
        let usage = state.usageMetadata()
        #expect(usage["total_agentic_steps"] == 3)
        #expect(usage["models"]?.objectValue?["cfg_1"]?.objectValue?["calls"] == 3)
        // Each tool call got its result; the screenshot after them went with the last.
        let results = await model.requests[2].messages.last
        guard case .toolResults(let toolResults, _)? = results else {
            Issue.record("no tool results")
            return
        }
        #expect(toolResults.map(\.toolCallID) == ["call_0", "call_1"])
        #expect(toolResults[1].content.contains { if case .image = $0 { true } else { false } })
    }

    @Test("a point off the screen, an unknown tool and a malformed call are told to the model, then end the run")
    func invalidCalls() async throws {
        let model = ScriptedTurns([
            Self.turn(("computer", ["action": "left_click", "coordinate": [900, 50]])),
            Self.turn(("frobnicate", [:])),
            Self.turn(("computer", ["action": "teleport"])),
        ])
        var state = PlannerState(configurationID: "cfg_1")
        let first = await PlannerLoop.advance(
            state: &state, request: Self.request(1), context: Self.context(), model: model)
        #expect(first.response.steps.isEmpty && first.response.end == nil)
        let second = await PlannerLoop.advance(
            state: &state, request: Self.request(2), context: Self.context(), model: model)
        #expect(second.response.steps.isEmpty && second.response.end == nil)
        let told = await model.requests[1].messages.last
        guard case .toolResults(let results, _)? = told, case .text(let text)? = results.first?.content.first else {
            Issue.record("the model was not told")
            return
        }
        #expect(results.first?.isError == true)
        #expect(text.contains("outside the screen (640x400)"))
        let third = await PlannerLoop.advance(
            state: &state, request: Self.request(3), context: Self.context(), model: model)
        #expect(third.response.end?.status == .error)
        #expect(third.response.end?.errors.first?.contains("3 answers in a row with only invalid tool calls") == true)
    }

    @Test("output that breaks output_schema is asked for once more, then the run fails naming it")
    func outputSchema() async throws {
        let model = ScriptedTurns([Self.turn(), Self.turn()])
        var state = PlannerState(configurationID: "cfg_1")
        let context = Self.context(check: { $0["patient"] == nil ? ["/patient: required"] : [] })
        let outcome = await PlannerLoop.advance(state: &state, request: Self.request(1), context: context, model: model)
        #expect(
            outcome.response.end
                == PlanEnd(
                    status: .taskFailed,
                    errors: ["output_data does not match the workflow's output_schema: /patient: required"]))
        #expect(await model.requests.count == 2)
    }

    @Test("the same action on an unchanged screen five times ends the run; so do the step and token limits")
    func limits() async throws {
        let wait: (String, JSONObject) = ("computer", ["action": "screenshot"])
        let model = ScriptedTurns(Array(repeating: Self.turn(wait), count: 6))
        var state = PlannerState(configurationID: "cfg_1")
        var last: PlanOutcome?
        for sequence in 1...5 {
            last = await PlannerLoop.advance(
                state: &state, request: Self.request(sequence), context: Self.context(), model: model)
        }
        #expect(last?.response.end?.status == .error)
        #expect(
            last?.response.end?.errors.first?.contains("repeated the same action 5 times on an unchanged screen")
                == true)

        var limits = PlannerLimits()
        limits.maxSteps = 2
        var busy = PlannerState(configurationID: "cfg_1")
        busy.stepsExecuted = 2
        let stopped = await PlannerLoop.advance(
            state: &busy, request: Self.request(1), context: Self.context(limits: limits), model: model)
        #expect(
            stopped.response.end?.errors == [
                "model configuration 'local vlm': the model did not finish within 2 steps (additional_params.max_steps)"
            ])
    }

    @Test("a secret that comes back in a tool's output is replaced by its placeholder before the model sees it")
    func redaction() async throws {
        let model = ScriptedTurns([
            Self.turn(("read_file", ["path": "~/CyberdeskTransfers/typed.txt", "output_key": "typed"])), Self.turn(),
        ])
        var context = Self.context()
        context.redact = { $0.replacingOccurrences(of: "hunter2-✓", with: "{$password}") }
        var state = PlannerState(configurationID: "cfg_1")
        _ = await PlannerLoop.advance(state: &state, request: Self.request(1), context: context, model: model)
        _ = await PlannerLoop.advance(
            state: &state,
            request: Self.request(
                2, results: [PlannedStepResult(stepIndex: 0, status: "success")], output: ["typed": "pw hunter2-✓\n"]),
            context: context, model: model)
        let sent = await model.requests[1].messages.last
        guard case .toolResults(let results, _)? = sent, case .text(let text)? = results.first?.content.first else {
            Issue.record("no tool result")
            return
        }
        #expect(text == "pw {$password}\n")
        #expect(!"\(state.messages)".contains("hunter2"))
    }

    @Test("the token budget and the wall time end the run before another model call")
    func budgets() async throws {
        let model = ScriptedTurns([])
        var limits = PlannerLimits(additionalParams: ["max_total_tokens": 500, "max_run_seconds": 60])
        var spent = PlannerState(configurationID: "cfg_1")
        spent.usage["cfg_1"] = ModelUsage(name: "local vlm", model: "ui-tars", provider: "openai")
        spent.usage["cfg_1"]?.inputTokens = 480
        spent.usage["cfg_1"]?.outputTokens = 30
        let tokens = await PlannerLoop.advance(
            state: &spent, request: Self.request(1), context: Self.context(limits: limits), model: model)
        #expect(tokens.response.end?.errors.first?.contains("used 510 tokens, over its limit of 500") == true)
        limits.maxTotalTokens = 1_000_000
        var late = PlannerState(configurationID: "cfg_1")
        var context = Self.context(limits: limits)
        context.elapsedSeconds = 61
        let wall = await PlannerLoop.advance(state: &late, request: Self.request(1), context: context, model: model)
        #expect(wall.response.end?.errors.first?.contains("took longer than 60 s") == true)
        #expect(await model.requests.isEmpty)
    }

    @Test("a refused key ends the run with the model's error; secrets never reach the request")
    func modelErrors() async throws {
        let model = ScriptedTurns([.failure(.unauthorized(configuration: "local vlm", detail: "invalid x-api-key"))])
        var state = PlannerState(configurationID: "cfg_1")
        let outcome = await PlannerLoop.advance(
            state: &state, request: Self.request(1), context: Self.context(), model: model)
        #expect(
            outcome.response.end
                == PlanEnd(
                    status: .error,
                    errors: ["model configuration 'local vlm': the API key was refused (invalid x-api-key)"]))
        let system = await model.requests[0].system
        #expect(system.contains("{$password}"))
    }
}
