import AsyncHTTPClient
import CyberdeskAPI
import Logging
import Testing

@testable import Planner

/// Cache detection's question: three images in order, only the `same_state` tool (no computer
/// tool, no computer-use beta header), and an answer that says "same" only when the model
/// clearly did.
@Suite struct SameStateQuestionTests {
    static let recorded: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 1]
    static let current: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 2]
    static let screen: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 3]

    static func question() -> ModelRequest {
        SameStateQuestion.request(
            stepIndex: 4, funcName: "click", recorded: recorded, current: current, screen: screen,
            screenSize: DisplaySize(width: 1280, height: 720))
    }

    @Test func theQuestionShowsTheRecordedCropTheRegionNowAndTheScreenInOrder() throws {
        let request = Self.question()
        #expect(!request.computerTool)
        #expect(request.tools.map(\.name) == ["same_state"])
        guard case .user(let parts) = try #require(request.messages.first) else {
            Issue.record("the question is not a user message")
            return
        }
        let images = parts.compactMap { part -> [UInt8]? in
            if case .image(let data, _) = part { return data }
            return nil
        }
        #expect(images == [Self.recorded, Self.current, Self.screen])
        guard case .text(let first) = parts[0] else { return }
        #expect(first.contains("Step 4 (click)"))
    }

    @Test func anthropicBodyDeclaresOnlyTheAnswerToolAndNoBetaHeader() throws {
        let adapter = AnthropicAdapter(
            endpoint: TestEndpoints.endpoint(.anthropic, url: nil, params: [:]), httpClient: .shared,
            logger: Logger(label: "t"))
        let body = adapter.requestBody(for: Self.question())
        #expect(body["tools"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } == ["same_state"])
        let wire = try adapter.wireRequest(for: Self.question())
        #expect(!wire.headers.contains { $0.name == "anthropic-beta" })
        #expect(try adapter.wireRequest(for: RequestBodyTests.request()).headers.contains { $0.name == "anthropic-beta" })
    }

    @Test func openaiBodyDeclaresOnlyTheAnswerFunction() {
        let adapter = OpenAIAdapter(
            endpoint: TestEndpoints.endpoint(.openai, url: nil, params: [:]), httpClient: .shared,
            logger: Logger(label: "t"))
        let body = adapter.requestBody(for: Self.question())
        let names = body["tools"]?.arrayValue?.compactMap { $0.objectValue?["function"]?.objectValue?["name"]?.stringValue }
        #expect(names == ["same_state"])
    }

    static func turn(_ calls: [ToolCall], text: String = "") -> ModelTurn {
        ModelTurn(
            text: text, toolCalls: calls, endedTurn: calls.isEmpty, usage: TokenUsage(inputTokens: 1, outputTokens: 1))
    }

    static let verdicts: [(input: JSONObject, same: Bool)] = [
        (["same": true, "reason": "same dialog"], true),
        (["same": "true", "reason": "same"], true),
        (["same": false, "reason": "another window"], false),
        (["same": "maybe"], false),
        (["reason": "no verdict"], false),
    ]

    @Test(arguments: verdicts)
    func onlyAClearYesIsTheSame(verdict: (input: JSONObject, same: Bool)) {
        let (input, same) = verdict
        let answer = SameStateQuestion.answer(Self.turn([ToolCall(id: "1", name: "same_state", input: input)]))
        #expect(answer.same == same, "\(answer)")
    }

    @Test func noCallIsNotTheSameAndSaysWhatCameInstead() {
        let answer = SameStateQuestion.answer(Self.turn([], text: "Looks similar to me."))
        #expect(!answer.same)
        #expect(answer.reason.contains("did not call same_state") && answer.reason.contains("Looks similar"))
        let other = SameStateQuestion.answer(
            Self.turn([ToolCall(id: "1", name: "computer", input: ["action": "left_click"])]))
        #expect(!other.same)
    }
}
