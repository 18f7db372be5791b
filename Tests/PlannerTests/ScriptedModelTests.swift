import AsyncHTTPClient
import CyberdeskAPI
import Foundation
import Logging
import NIOCore
import TestSupport
import Testing

@testable import Planner

/// The built `scripted-model` binary on an ephemeral port, with its script, key and request log
/// in a fresh directory.
struct ScriptedModelProcess {
    let process: ChildProcess
    let url: String
    let directory: URL

    var requestsDir: URL { directory.appendingPathComponent("requests") }

    static func start(script: String, apiKey: String? = nil, extra: [String] = []) async throws -> ScriptedModelProcess
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scripted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scriptPath = directory.appendingPathComponent("script.json").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let portFile = directory.appendingPathComponent("port").path
        var arguments = [
            "--script", scriptPath, "--port", "0", "--port-file", portFile, "--requests-dir",
            directory.appendingPathComponent("requests").path,
        ]
        if let apiKey {
            let keyPath = directory.appendingPathComponent("key").path
            try apiKey.write(toFile: keyPath, atomically: true, encoding: .utf8)
            arguments += ["--api-key-file", keyPath]
        }
        let process = try ChildProcess(builtExecutable("scripted-model"), arguments + extra, environment: [:])
        let started = await eventually(timeout: .seconds(20)) {
            FileManager.default.fileExists(atPath: portFile) || process.exitStatus != nil
        }
        guard started, let text = try? String(contentsOfFile: portFile, encoding: .utf8),
            let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.signal(SIGKILL)
            _ = await process.wait()
            throw TestFailure("scripted-model did not start: \(process.log)")
        }
        return ScriptedModelProcess(process: process, url: "http://127.0.0.1:\(port)", directory: directory)
    }

    func stop() async {
        process.signal(SIGTERM)
        _ = await process.wait()
    }

    /// Every request body it received, in order.
    func requestBodies() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: requestsDir.path).sorted().map {
            try String(contentsOf: requestsDir.appendingPathComponent($0), encoding: .utf8)
        }
    }
}

/// The scripted model finds its targets in the pixels it is sent, in both wire formats, and
/// the adapters parse what it answers (the round trip of the adapters against a real server).
@Suite struct ScriptedModelTests {
    /// A 640×400 white screen with a gold rectangle at x 100...199, y 50...89 (centre 149, 69)
    /// and a blue one at x 400...459, y 300...339 (centre 429, 319).
    static func screen() throws -> [UInt8] {
        try screenshotPNG(
            width: 640, height: 400,
            rectangles: [(100, 50, 100, 40, 0xFFD700), (400, 300, 60, 40, 0x0000FF), (10, 10, 4, 4, 0xFFD700)])
    }

    static let size = DisplaySize(width: 640, height: 400)
    static let prompt = "Log in as «dr.jones» and look up patient «Ada Lovelace»."

    static func request(_ png: [UInt8], history: [ConversationMessage] = []) -> ModelRequest {
        ModelRequest(
            system: "Type {$name} placeholders exactly.",
            messages: [.user([.text(prompt), .image(data: png, mediaType: "image/png")])] + history,
            screen: size,
            tools: [CustomTool(name: "set_output", description: "Set an output.", inputSchema: ["type": "object"])])
    }

    static let script = #"""
        {"actions": [
          {"click": {"color": "#ffd700"}, "button": "left", "clicks": 1},
          {"type": {"quoted": 0}},
          {"type": {"text": "{$ehr_password}"}},
          {"key": "Return"},
          {"tool": "set_output", "input": {"key": "patient", "value": {"quoted": 1}}},
          {"drag": {"from_color": "#ffd700", "to_color": "#0000ff"}},
          {"scroll": {"color": "#0000ff"}, "direction": "down", "amount": 3},
          {"click": {"color": "#00ff00"}},
          {"end": "All done."}
        ]}
        """#

    /// The conversation after `steps` actions, each answered with a screenshot.
    static func history(_ steps: Int, png: [UInt8]) -> [ConversationMessage] {
        (0..<steps).flatMap { step -> [ConversationMessage] in
            let id = "call_\(step)"
            return [
                .assistant(text: nil, toolCalls: [ToolCall(id: id, name: "computer", input: ["action": "screenshot"])]),
                .toolResults([
                    ToolResult(toolCallID: id, content: [.text("ok"), .image(data: png, mediaType: "image/png")])
                ]),
            ]
        }
    }

    @Test(arguments: ModelProvider.allCases)
    func clicksTheCentreOfTheLargestRegionOfTheColour(provider: ModelProvider) async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script, apiKey: TestEndpoints.apiKey)
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: model.url), retry: SleepRecorder().policy)
        let turn = try await client.complete(Self.request(try Self.screen()))
        #expect(
            try computerAction(turn, screen: Self.size)
                == .click(button: .left, clicks: 1, at: ModelPoint(x: 149, y: 69), modifiers: nil))
        #expect(!turn.endedTurn)
        #expect(turn.usage.inputTokens > 100)
        #expect(turn.usage.outputTokens == 20)
        await model.stop()
    }

    @Test(arguments: ModelProvider.allCases)
    func followsTheScriptStepByStep(provider: ModelProvider) async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: model.url, apiKey: nil), retry: SleepRecorder().policy)
        let png = try Self.screen()
        var turns: [ModelTurn] = []
        for step in 0..<10 {
            turns.append(try await client.complete(Self.request(png, history: Self.history(step, png: png))))
        }
        await model.stop()
        func action(_ index: Int) throws -> ComputerAction { try computerAction(turns[index], screen: Self.size) }
        #expect(try action(1) == .type("dr.jones"))
        #expect(try action(2) == .type("{$ehr_password}"))
        #expect(try action(3) == .key("Return"))
        #expect(turns[4].toolCalls.first?.name == "set_output")
        #expect(turns[4].toolCalls.first?.input == ["key": "patient", "value": "Ada Lovelace"])
        #expect(try action(5) == .drag(from: ModelPoint(x: 149, y: 69), to: ModelPoint(x: 429, y: 319)))
        #expect(try action(6) == .scroll(direction: .down, amount: 3, at: ModelPoint(x: 429, y: 319), modifiers: nil))
        // Green is nowhere on the screen: a failure the test sees, not a random click.
        #expect(turns[7].endedTurn)
        #expect(turns[7].text == "target #00ff00 not found")
        #expect(turns[8].endedTurn && turns[8].text == "All done.")
        #expect(turns[9].endedTurn)
        let ids = turns.flatMap { $0.toolCalls.map(\.id) }
        #expect(Set(ids).count == ids.count, "tool call ids are unique")
    }

    @Test func answersInNormalizedCoordinatesWhenTheToolSaysSo() async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let endpoint = TestEndpoints.endpoint(.openai, url: model.url, params: ["coordinate_space": "normalized_1000"])
        let turn = try await TestEndpoints.client(endpoint, retry: SleepRecorder().policy).complete(
            Self.request(try Self.screen()))
        await model.stop()
        let input = try #require(turn.toolCalls.first?.input)
        #expect(input["coordinate"] == [233, 173])
        guard case .click(_, _, let point?, _) = try computerAction(turn, screen: Self.size, space: .normalized1000)
        else {
            Issue.record("not a click: \(turn)")
            return
        }
        #expect(abs(point.x - 149) <= 1.5 && abs(point.y - 69) <= 1.5)
    }

    @Test func anthropicClicksAreInTheDeclaredDisplaySpace() async throws {
        // The image is 640×400 but the tool declares 1280×800: the answer is in the declared space.
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: model.url), retry: SleepRecorder().policy)
        var request = Self.request(try Self.screen())
        request.screen = DisplaySize(width: 1280, height: 800)
        let turn = try await client.complete(request)
        await model.stop()
        #expect(turn.toolCalls.first?.input["coordinate"] == [298, 138])
    }

    @Test(arguments: ModelProvider.allCases)
    func aWrongKeyIsRefusedInTheProvidersFormat(provider: ModelProvider) async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script, apiKey: "the-right-key-0000")
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: model.url), retry: SleepRecorder().policy)
        let error = await #expect(throws: ModelError.self) {
            try await client.complete(Self.request(try Self.screen()))
        }
        await model.stop()
        guard case .unauthorized(_, let detail) = error else {
            Issue.record("expected unauthorized, got \(String(describing: error))")
            return
        }
        #expect(detail.contains(provider == .anthropic ? "invalid x-api-key" : "Incorrect API key provided"))
    }

    @Test func scriptedFaultsAreRetriedAndEveryRequestIsKept() async throws {
        let script = #"""
            {"actions": [{"screenshot": true}],
             "faults": [{"status": 429, "times": 2, "headers": {"retry-after": "1"}}, {"status": 529, "times": 1}]}
            """#
        let model = try await ScriptedModelProcess.start(script: script)
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: model.url, maxRetries: 3), retry: sleeps.policy)
        let turn = try await client.complete(Self.request(try Self.screen()))
        await model.stop()
        #expect(turn.attempts == 4)
        #expect(sleeps.recorded == [1, 1, 4])
        #expect(try computerAction(turn, screen: Self.size) == .screenshot)
        let bodies = try model.requestBodies()
        #expect(bodies.count == 4)
        #expect(bodies.allSatisfy { $0.contains("«dr.jones»") })
        // The key travels in a header only, in no form in any body.
        let key = TestEndpoints.apiKey
        let forms = [
            key, String(JSONValue.string(key).compactJSON.dropFirst().dropLast()),
            key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? key,
            Data(key.utf8).base64EncodedString(),
        ]
        for body in bodies {
            for form in forms { #expect(!body.contains(form)) }
        }
    }

    @Test(arguments: ModelProvider.allCases)
    func aConversationTheVendorWouldRefuseIsRefused(provider: ModelProvider) async throws {
        // A tool result answering no tool call: the real APIs answer 400, so does the stand-in.
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: model.url), retry: SleepRecorder().policy)
        let png = try Self.screen()
        let orphan: [ConversationMessage] = [
            .assistant(text: "Looking.", toolCalls: []),
            .toolResults([ToolResult(toolCallID: "call_nope", content: [.text("ok")])]),
        ]
        let error = await #expect(throws: ModelError.self) {
            try await client.complete(Self.request(png, history: orphan))
        }
        await model.stop()
        guard case .server(_, 400, let detail) = error else {
            Issue.record("expected a 400, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("tool"))
    }

    @Test func emptyTextPartsAreNotSentToAnthropic() async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: model.url), retry: SleepRecorder().policy)
        let png = try Self.screen()
        let request = ModelRequest(
            system: "", messages: [.user([.text(""), .text(Self.prompt), .image(data: png, mediaType: "image/png")])],
            screen: Self.size, tools: [])
        let turn = try await client.complete(request)
        await model.stop()
        #expect(turn.toolCalls.first?.input["coordinate"] == [149, 69])
    }

    @Test func answersHealthChecks() async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script)
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: model.url + "/health"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 16)
        await model.stop()
        #expect(response.status.code == 200)
        #expect(String(buffer: body) == #"{"status":"ok"}"#)
    }

    @Test func aModelThatThinksTooLongTimesOut() async throws {
        let model = try await ScriptedModelProcess.start(script: #"{"actions": [{"delay_seconds": 20}]}"#)
        let endpoint = TestEndpoints.endpoint(.openai, url: model.url, timeout: 0.5, maxRetries: 1)
        let client = TestEndpoints.client(endpoint, retry: SleepRecorder().policy)
        await #expect(throws: ModelError.timeout(configuration: "test-openai", seconds: 0.5)) {
            try await client.complete(Self.request(try Self.screen()))
        }
        await model.stop()
        #expect(try model.requestBodies().count == 2)
    }

    @Test func normalizedFlagAppliesToAnthropicToo() async throws {
        let model = try await ScriptedModelProcess.start(script: Self.script, extra: ["--normalized-1000"])
        let endpoint = TestEndpoints.endpoint(
            .anthropic, url: model.url, params: ["coordinate_space": "normalized_1000"])
        let turn = try await TestEndpoints.client(endpoint, retry: SleepRecorder().policy)
            .complete(Self.request(try Self.screen()))
        await model.stop()
        #expect(turn.toolCalls.first?.input["coordinate"] == [233, 173])
    }

    @Test func malformedAndUnknownToolAnswers() async throws {
        let script = #"{"actions": [{"malformed": true}, {"unknown_tool": "frobnicate"}], "forever": {"key": "F5"}}"#
        let model = try await ScriptedModelProcess.start(script: script)
        let png = try Self.screen()
        let openai = TestEndpoints.client(
            TestEndpoints.endpoint(.openai, url: model.url), retry: SleepRecorder().policy)
        let anthropic = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: model.url), retry: SleepRecorder().policy)
        await #expect(throws: ModelError.self) { try await openai.complete(Self.request(png)) }
        // Anthropic's input is always an object: the malformed call has no action.
        let missing = try await anthropic.complete(Self.request(png))
        #expect(throws: ModelError.self) { try computerAction(missing, screen: Self.size) }
        let unknown = try await openai.complete(Self.request(png, history: Self.history(1, png: png)))
        #expect(unknown.toolCalls.map(\.name) == ["frobnicate"])
        for steps in [2, 5] {
            let forever = try await anthropic.complete(Self.request(png, history: Self.history(steps, png: png)))
            #expect(try computerAction(forever, screen: Self.size) == .key("F5"))
        }
        await model.stop()
    }
}
