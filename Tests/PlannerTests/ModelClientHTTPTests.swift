import AsyncHTTPClient
import CyberdeskAPI
import Foundation
import Hummingbird
import Logging
import NIOCore
import TestSupport
import Testing

@testable import Planner

/// The retry, timeout and error rules of ``ModelClient`` against a real HTTP server on an
/// ephemeral port. Backoffs are recorded, not waited; timeouts are real (and short).
@Suite struct ModelClientHTTPTests {
    static let request = ModelRequest(
        system: "sys", messages: [.user([.text("hello")])], screen: DisplaySize(width: 1280, height: 800), tools: [])

    static let anthropicToolUse = #"""
        {"id":"msg_1","type":"message","role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"computer","input":{"action":"left_click","coordinate":[10,20]}}],"stop_reason":"tool_use","usage":{"input_tokens":11,"output_tokens":7}}
        """#
    static let openAIToolCall = #"""
        {"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"computer","arguments":"{\"action\":\"left_click\",\"coordinate\":[10,20]}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":11,"completion_tokens":7}}
        """#

    static func errorBody(_ provider: ModelProvider, _ message: String) -> String {
        let escaped = JSONValue.string(message).compactJSON
        return provider == .anthropic
            ? #"{"type":"error","error":{"type":"api_error","message":\#(escaped)}}"#
            : #"{"error":{"message":\#(escaped),"type":"server_error","param":null,"code":null}}"#
    }

    @Test(arguments: ModelProvider.allCases)
    func refusedKeyIsUnauthorizedWithoutRetryAndNeverQuotesTheKey(provider: ModelProvider) async throws {
        let server = try await FakeProviderServer.start { _, _ in
            // Providers echo a masked form of the key they refused.
            FakeProviderServer.json(
                Self.errorBody(provider, "Incorrect API key provided: sk-test-SE*************XYZ"),
                status: .unauthorized)
        }
        let logs = LogCollector()
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: server.url, maxRetries: 3), retry: sleeps.policy, logs: logs)
        let error = await #expect(throws: ModelError.self) { try await client.complete(Self.request) }
        await server.stop()
        guard case .unauthorized(let name, let detail) = error else {
            Issue.record("expected unauthorized, got \(String(describing: error))")
            return
        }
        #expect(name == "test-\(provider.rawValue)")
        #expect(detail.contains("HTTP 401"))
        #expect(server.requestCount == 1)
        #expect(sleeps.recorded.isEmpty)
        let message = error?.message ?? ""
        #expect(message.contains("the API key was refused"))
        for leak in [TestEndpoints.apiKey, "sk-test-SE", "SECRETKEY"] {
            #expect(!message.contains(leak))
            #expect(!logs.all.joined(separator: "\n").contains(leak))
        }
    }

    @Test(arguments: ModelProvider.allCases)
    func rateLimitHonoursRetryAfterThenSucceeds(provider: ModelProvider) async throws {
        let server = try await FakeProviderServer.start { number, _ in
            if number <= 2 {
                return FakeProviderServer.json(
                    Self.errorBody(provider, "slow down"), status: .tooManyRequests, headers: [.retryAfter: "3"])
            }
            return FakeProviderServer.json(provider == .anthropic ? Self.anthropicToolUse : Self.openAIToolCall)
        }
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: server.url, maxRetries: 2), retry: sleeps.policy)
        let turn = try await client.complete(Self.request)
        await server.stop()
        #expect(turn.attempts == 3)
        #expect(sleeps.recorded == [3, 3])
        #expect(turn.usage == TokenUsage(inputTokens: 11, outputTokens: 7))
        #expect(
            try computerAction(turn, screen: Self.request.screen)
                == .click(button: .left, clicks: 1, at: ModelPoint(x: 10, y: 20), modifiers: nil))
    }

    @Test func rateLimitedOnEveryRetryIsRateLimited() async throws {
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(
                Self.errorBody(.openai, "slow down"), status: .tooManyRequests, headers: [.retryAfter: "120"])
        }
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.openai, url: server.url, maxRetries: 1), retry: sleeps.policy)
        await #expect(throws: ModelError.rateLimited(configuration: "test-openai", retryAfter: 120)) {
            try await client.complete(Self.request)
        }
        await server.stop()
        #expect(sleeps.recorded == [60])  // retry-after capped at 60 s
        #expect(server.requestCount == 2)
    }

    @Test(arguments: ModelProvider.allCases)
    func serverErrorsAreRetriedUpToMaxRetriesThenReported(provider: ModelProvider) async throws {
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(Self.errorBody(provider, "Overloaded"), status: .serviceUnavailable)
        }
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(provider, url: server.url, maxRetries: 2), retry: sleeps.policy)
        await #expect(
            throws: ModelError.server(configuration: "test-\(provider.rawValue)", status: 503, detail: "Overloaded")
        ) {
            try await client.complete(Self.request)
        }
        await server.stop()
        #expect(server.requestCount == 3)
        #expect(sleeps.recorded == [1, 2])
    }

    @Test func otherClientErrorsAreNotRetriedAndCarryTheProviderMessageTruncated() async throws {
        let long = "max_tokens: 999999 > 64000, which is the maximum allowed " + String(repeating: "x", count: 500)
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(Self.errorBody(.anthropic, long), status: .badRequest)
        }
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(TestEndpoints.endpoint(.anthropic, url: server.url), retry: sleeps.policy)
        let error = await #expect(throws: ModelError.self) { try await client.complete(Self.request) }
        await server.stop()
        guard case .server(_, 400, let detail) = error else {
            Issue.record("expected a 400 server error, got \(String(describing: error))")
            return
        }
        #expect(detail.hasPrefix("max_tokens: 999999 > 64000"))
        #expect(detail.count <= 301)
        #expect(server.requestCount == 1)
    }

    @Test func aServerThatNeverAnswersTimesOutWithinTheTimeout() async throws {
        let server = try await FakeProviderServer.start { _, _ in await stall() }
        let sleeps = SleepRecorder()
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.openai, url: server.url, timeout: 0.5, maxRetries: 1), retry: sleeps.policy)
        let started = ContinuousClock.now
        await #expect(throws: ModelError.timeout(configuration: "test-openai", seconds: 0.5)) {
            try await client.complete(Self.request)
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(3), "two 0.5 s attempts took \(elapsed)")
        #expect(sleeps.recorded.count == 1)
        #expect(server.requestCount == 2)
        await server.stop()
    }

    @Test func aBodyThatStallsHalfwayTimesOutToo() async throws {
        // The head and the start of the body come at once, the rest never: the timeout covers
        // the whole answer, not only the response head.
        let server = try await FakeProviderServer.start { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: #"{"content":[{"type":"text","text":"I will"#))
                    try await Task.sleep(for: .seconds(30))
                    try await writer.finish(nil)
                })
        }
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: server.url, timeout: 0.5, maxRetries: 0),
            retry: SleepRecorder().policy)
        let started = ContinuousClock.now
        await #expect(throws: ModelError.timeout(configuration: "test-anthropic", seconds: 0.5)) {
            try await client.complete(Self.request)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        await server.stop()
    }

    @Test func aMalformedBodyIsNotRetried() async throws {
        let server = try await FakeProviderServer.start { _, _ in FakeProviderServer.json("<html>gateway</html>") }
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: server.url), retry: SleepRecorder().policy)
        let error = await #expect(throws: ModelError.self) { try await client.complete(Self.request) }
        await server.stop()
        guard case .malformed(_, let detail) = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("not JSON"))
        #expect(server.requestCount == 1)
    }

    @Test func aToolCallWhoseArgumentsAreNotJSONIsMalformed() async throws {
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(
                #"{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"computer","arguments":"left_click at 10,20"}}]},"finish_reason":"tool_calls"}]}"#
            )
        }
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.openai, url: server.url), retry: SleepRecorder().policy)
        let error = await #expect(throws: ModelError.self) { try await client.complete(Self.request) }
        await server.stop()
        #expect(error?.message.contains("the arguments of tool call 'computer' are not a JSON object") == true)
    }

    @Test func connectionRefusedIsATransportErrorAfterRetries() async throws {
        let sleeps = SleepRecorder()
        let httpClient = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: ModelClient.httpClientConfiguration())
        let client = ModelClient(
            endpoint: TestEndpoints.endpoint(.anthropic, url: "http://127.0.0.1:1", maxRetries: 2),
            httpClient: httpClient, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
            retry: sleeps.policy)
        let error = await #expect(throws: ModelError.self) { try await client.complete(Self.request) }
        try await httpClient.shutdown()
        guard case .transport(_, let detail) = error else {
            Issue.record("expected transport, got \(String(describing: error))")
            return
        }
        #expect(detail == "connection refused")
        #expect(sleeps.recorded.count == 2)
    }

    @Test func cancellingTheCallerStopsAStalledCallAtOnce() async throws {
        let server = try await FakeProviderServer.start { _, _ in await stall() }
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.anthropic, url: server.url, timeout: 60, maxRetries: 5), retry: .standard)
        let task = Task { try await client.complete(Self.request) }
        #expect(await eventually { server.requestCount == 1 })
        let cancelled = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - cancelled < .seconds(2))
        #expect(throws: ModelError.cancelled(configuration: "test-anthropic")) { try result.get() }
        #expect(server.requestCount == 1)
        await server.stop()
    }

    @Test func cancellingDuringABackoffDoesNotRetry() async throws {
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(
                Self.errorBody(.openai, "busy"), status: .tooManyRequests, headers: [.retryAfter: "50"])
        }
        let client = TestEndpoints.client(
            TestEndpoints.endpoint(.openai, url: server.url, maxRetries: 5), retry: .standard)
        let task = Task { try await client.complete(Self.request) }
        #expect(await eventually { server.requestCount == 1 })
        task.cancel()
        let result = await task.result
        #expect(throws: ModelError.cancelled(configuration: "test-openai")) { try result.get() }
        #expect(server.requestCount == 1)
        await server.stop()
    }

    @Test func anthropicSendsItsHeadersAndPath() async throws {
        let server = try await FakeProviderServer.start { _, _ in FakeProviderServer.json(Self.anthropicToolUse) }
        let endpoint = TestEndpoints.endpoint(
            .anthropic, url: server.url, params: ["tool_version": "computer_20251124"])
        _ = try await TestEndpoints.client(endpoint, retry: SleepRecorder().policy).complete(Self.request)
        let beta = TestEndpoints.endpoint(.anthropic, url: server.url, params: ["beta": "custom-beta-1"])
        _ = try await TestEndpoints.client(beta, retry: SleepRecorder().policy).complete(Self.request)
        await server.stop()
        let requests = server.requests
        #expect(requests.map(\.path) == ["/v1/messages", "/v1/messages"])
        #expect(requests[0].headers["x-api-key"] == TestEndpoints.apiKey)
        #expect(requests[0].headers["anthropic-version"] == "2023-06-01")
        #expect(requests[0].headers["anthropic-beta"] == "computer-use-2025-11-24")
        #expect(requests[0].headers["content-type"] == "application/json")
        #expect(requests[1].headers["anthropic-beta"] == "custom-beta-1")
        #expect(requests[0].json["tools"]?.arrayValue?.first?.objectValue?["type"] == "computer_20251124")
    }

    @Test func openAISendsBearerOnlyWithAKeyAndAzureItsOwnWay() async throws {
        let server = try await FakeProviderServer.start { _, _ in FakeProviderServer.json(Self.openAIToolCall) }
        let retry = SleepRecorder().policy
        _ = try await TestEndpoints.client(TestEndpoints.endpoint(.openai, url: server.url + "/v1"), retry: retry)
            .complete(Self.request)
        _ = try await TestEndpoints.client(TestEndpoints.endpoint(.openai, url: server.url, apiKey: nil), retry: retry)
            .complete(Self.request)
        let azure = TestEndpoints.endpoint(.openai, url: server.url, params: ["api_version": "2024-10-21"])
        _ = try await TestEndpoints.client(azure, retry: retry).complete(Self.request)
        await server.stop()
        let requests = server.requests
        #expect(
            requests.map(\.path) == [
                "/v1/chat/completions", "/v1/chat/completions", "/openai/deployments/gpt-4o/chat/completions",
            ])
        #expect(requests[0].headers["authorization"] == "Bearer \(TestEndpoints.apiKey)")
        #expect(requests[1].headers["authorization"] == nil)
        #expect(requests[2].query == "api-version=2024-10-21")
        #expect(requests[2].headers["api-key"] == TestEndpoints.apiKey)
        #expect(requests[2].headers["authorization"] == nil)
    }

    @Test(arguments: ModelProvider.allCases)
    func validateSendsOnePing(provider: ModelProvider) async throws {
        let server = try await FakeProviderServer.start { _, _ in
            FakeProviderServer.json(
                provider == .anthropic
                    ? #"{"content":[{"type":"text","text":"P"}],"stop_reason":"max_tokens","usage":{"input_tokens":8,"output_tokens":1}}"#
                    : #"{"choices":[{"index":0,"message":{"role":"assistant","content":"P"},"finish_reason":"length"}]}"#
            )
        }
        try await TestEndpoints.client(TestEndpoints.endpoint(provider, url: server.url), retry: SleepRecorder().policy)
            .validate()
        await server.stop()
        #expect(server.requestCount == 1)
        let body = try #require(server.requests.first).json
        #expect(body["max_tokens"] == 1)
        #expect(body["tools"] == nil)
    }
}
