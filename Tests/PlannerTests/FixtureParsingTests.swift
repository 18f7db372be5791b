import AsyncHTTPClient
import CyberdeskAPI
import Logging
import Testing

@testable import Planner

/// The adapters read the providers' documented and recorded responses (Fixtures/README.md).
@Suite struct FixtureParsingTests {
    let anthropic = AnthropicAdapter(
        endpoint: TestEndpoints.endpoint(.anthropic, url: nil), httpClient: .shared, logger: Logger(label: "t"))
    let openai = OpenAIAdapter(
        endpoint: TestEndpoints.endpoint(.openai, url: nil), httpClient: .shared, logger: Logger(label: "t"))

    @Test func anthropicComputerUseScreenshot() throws {
        let turn = try anthropic.parseTurn(try fixture("anthropic-computer-screenshot.json"))
        #expect(turn.text == "I'll take a screenshot of the desktop for you.")
        #expect(
            turn.toolCalls == [
                ToolCall(id: "toolu_01MpnnLwjqpqYWLUQ5F5SixE", name: "computer", input: ["action": "screenshot"])
            ])
        #expect(!turn.endedTurn)
        #expect(turn.usage == TokenUsage(inputTokens: 1652, outputTokens: 63))
        #expect(try computerAction(turn, screen: DisplaySize(width: 1920, height: 1080)) == .screenshot)
    }

    @Test func anthropicCustomToolUseCountsCachedInputTokens() throws {
        let turn = try anthropic.parseTurn(try fixture("anthropic-tool-use.json"))
        #expect(turn.text == "I'll look that up for you.")
        #expect(turn.toolCalls.map(\.name) == ["get_weather"])
        #expect(turn.toolCalls.first?.id == "toolu_01A09q90qw90lq917835lq9")
        #expect(turn.toolCalls.first?.input == ["city": "London", "units": "celsius"])
        // input_tokens 150 + cache_read_input_tokens 120: both are prompt tokens a budget must count.
        #expect(turn.usage == TokenUsage(inputTokens: 270, outputTokens: 87))
        #expect(!turn.endedTurn)
    }

    @Test func anthropicEndTurn() throws {
        let turn = try anthropic.parseTurn(try fixture("anthropic-end-turn.json"))
        #expect(turn.text == "Hi! My name is Claude.")
        #expect(turn.toolCalls.isEmpty)
        #expect(turn.endedTurn)
        #expect(turn.usage == TokenUsage(inputTokens: 2095, outputTokens: 503))
    }

    @Test func openAIToolCallsWithArgumentsAsAJSONString() throws {
        let turn = try openai.parseTurn(try fixture("openai-tool-calls.json"))
        #expect(turn.text == "")
        #expect(
            turn.toolCalls == [
                ToolCall(id: "call_abc123", name: "get_current_weather", input: ["location": "Boston, MA"])
            ])
        #expect(!turn.endedTurn)
        #expect(turn.usage == TokenUsage(inputTokens: 82, outputTokens: 17))
    }

    @Test func openAIStrictToolCallsWithRefusalField() throws {
        let turn = try openai.parseTurn(try fixture("openai-tool-calls-strict.json"))
        #expect(
            turn.toolCalls == [
                ToolCall(id: "call_FezxjoWuDV1CL3dITVFOjUzK", name: "get_weather", input: ["location": "Paris, France"])
            ])
        #expect(turn.usage == TokenUsage(inputTokens: 65, outputTokens: 16))
    }

    @Test func openAITextAnswerEndsTheTurn() throws {
        let turn = try openai.parseTurn(try fixture("openai-text.json"))
        #expect(turn.text == "1 + 1 = 2.")
        #expect(turn.toolCalls.isEmpty)
        #expect(turn.endedTurn)
        #expect(turn.usage == TokenUsage(inputTokens: 23, outputTokens: 8))
    }

    @Test func ollamaStyleToolCalls() throws {
        let turn = try openai.parseTurn(try fixture("ollama-tool-calls.json"))
        #expect(turn.text == "")
        #expect(turn.toolCalls == [ToolCall(id: "call_hk81qg8b", name: "run_command", input: ["command": "ls -la"])])
        #expect(!turn.endedTurn)
        #expect(turn.usage == TokenUsage(inputTokens: 312, outputTokens: 24))
    }

    @Test func openAIArgumentsThatAreNotJSONAreMalformed() throws {
        let body = Array(
            #"{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"computer","arguments":"{\"action\": \"left_cl"}}]},"finish_reason":"tool_calls"}]}"#
                .utf8)
        #expect {
            try openai.parseTurn(body)
        } throws: { error in
            guard case .malformed(let name, let detail) = error as? ModelError else { return false }
            return name == "test-openai" && detail.contains("tool call 'computer'")
                && detail.contains("not a JSON object")
        }
    }

    @Test func bodiesThatAreNotTheProvidersFormatAreMalformed() {
        for body in ["not json", "[1,2]", #"{"id":"x"}"#] {
            #expect(throws: ModelError.self) { try anthropic.parseTurn(Array(body.utf8)) }
            #expect(throws: ModelError.self) { try openai.parseTurn(Array(body.utf8)) }
        }
    }

    @Test func anthropicToolUseWithoutInputObjectIsMalformed() {
        let body = Array(
            #"{"content":[{"type":"tool_use","id":"t","name":"computer","input":"left_click"}],"stop_reason":"tool_use"}"#
                .utf8)
        #expect(throws: ModelError.self) { try anthropic.parseTurn(body) }
    }
}
