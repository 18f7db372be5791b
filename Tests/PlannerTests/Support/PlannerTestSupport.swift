import AsyncHTTPClient
import CyberdeskAPI
import Desktop
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TestSupport

@testable import Planner

/// A request as the fake provider saw it.
struct RecordedRequest: Sendable {
    var path: String
    var query: String
    var headers: [String: String]
    var body: [UInt8]

    var json: JSONObject {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(body)))?.objectValue ?? [:]
    }
}

/// A fake model provider: a real Hummingbird server on an ephemeral port whose every POST is
/// answered by `respond` (given the 1-based request number). A fake at the boundary we cannot
/// reach from here (the vendors' APIs); the client under test speaks real HTTP to it.
final class FakeProviderServer: Sendable {
    let url: String
    private let task: Task<Void, any Error>
    private let state: State

    /// What the handler records, shared with it before the server object exists.
    private final class State: Sendable {
        let recorded = Mutex<[RecordedRequest]>([])
    }

    var requests: [RecordedRequest] { state.recorded.withLock { $0 } }
    var requestCount: Int { state.recorded.withLock { $0.count } }

    private init(url: String, task: Task<Void, any Error>, state: State) {
        self.url = url
        self.task = task
        self.state = state
    }

    static func start(
        _ respond: @escaping @Sendable (_ number: Int, _ request: RecordedRequest) async -> Response
    ) async throws -> FakeProviderServer {
        let state = State()
        let router = Router(context: BasicRequestContext.self)
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = Array(buffer: try await request.body.collect(upTo: 64 << 20))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let recordedRequest = RecordedRequest(
                path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: body)
            let number = state.recorded.withLock { list in
                list.append(recordedRequest)
                return list.count
            }
            return await respond(number, recordedRequest)
        }
        router.post("**", use: handler)
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "fake-provider", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await app.runService() }
        guard await eventually({ port.withLock { $0 } != nil }), let bound = port.withLock({ $0 }) else {
            task.cancel()
            throw TestFailure("the fake provider did not start")
        }
        return FakeProviderServer(url: "http://127.0.0.1:\(bound)", task: task, state: state)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// A JSON answer.
    static func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ object: JSONObject, status: HTTPResponse.Status = .ok) -> Response {
        json(JSONValue.object(object).compactJSON, status: status)
    }
}

/// A stalled upstream: answers nothing until the client gives up (the connection closes and the
/// server is stopped) — bounded so a broken test cannot hang the suite.
func stall(seconds: Double = 30) async -> Response {
    try? await Task.sleep(for: .seconds(seconds))
    return FakeProviderServer.json(["stalled": true])
}

/// Records the backoff delays instead of waiting them.
final class SleepRecorder: Sendable {
    private let delays = Mutex<[Double]>([])
    var recorded: [Double] { delays.withLock { $0 } }

    var policy: RetryPolicy {
        RetryPolicy(sleep: { [self] seconds in delays.withLock { $0.append(seconds) } }, jitter: { 1 })
    }
}

enum TestEndpoints {
    static let apiKey = "sk-test-SECRETKEY-0123456789abcdefXYZ"

    static func endpoint(
        _ provider: ModelProvider, url: String?, apiKey: String? = TestEndpoints.apiKey, timeout: Double = 10,
        maxRetries: Int = 2, params: JSONObject = [:]
    ) -> ModelEndpoint {
        var additional = params
        if let url { additional["base_url"] = .string(url) }
        return ModelEndpoint(
            configurationID: "mc_test", name: "test-\(provider.rawValue)", provider: provider,
            model: provider == .anthropic ? "claude-sonnet-4-5" : "gpt-4o", apiKey: apiKey, timeoutSeconds: timeout,
            maxRetries: maxRetries, additionalParams: additional)
    }

    static func client(_ endpoint: ModelEndpoint, retry: RetryPolicy, logs: LogCollector? = nil) -> ModelClient {
        ModelClient(
            endpoint: endpoint, httpClient: HTTPClient.shared,
            logger: logs?.logger(label: "planner")
                ?? Logger(label: "planner", factory: { _ in SwiftLogNoOpLogHandler() }),
            retry: retry)
    }
}

/// A white screenshot with filled rectangles, as a PNG the repo's encoder wrote.
func screenshotPNG(width: Int, height: Int, rectangles: [(x: Int, y: Int, w: Int, h: Int, rgb: UInt32)]) throws
    -> [UInt8]
{
    var pixels = [UInt8](repeating: 0xFF, count: width * height * 3)
    for rect in rectangles {
        for y in rect.y..<(rect.y + rect.h) {
            for x in rect.x..<(rect.x + rect.w) {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(rect.rgb >> 16 & 0xFF)
                pixels[i + 1] = UInt8(rect.rgb >> 8 & 0xFF)
                pixels[i + 2] = UInt8(rect.rgb & 0xFF)
            }
        }
    }
    return try PNGEncoder.encode(pixels, width: width, height: height)
}

/// The first computer call of a turn, parsed.
func computerAction(
    _ turn: ModelTurn, screen: DisplaySize, space: CoordinateSpace = .pixels
) throws -> ComputerAction {
    guard let call = turn.toolCalls.first, call.name == "computer" else {
        throw TestFailure("no computer call in \(turn)")
    }
    return try ComputerAction.parse(call.input, screen: screen, space: space, configuration: "test")
}

/// The fixture's bytes.
func fixture(_ name: String) throws -> [UInt8] {
    let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    return Array(try Data(contentsOf: directory.appendingPathComponent(name)))
}
