import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The v1 API called from inside the process for an organization that is already
/// authenticated (the dashboard's signed-in session). The call goes through the same router
/// and handlers as a request from the network, so every rule — validation, isolation,
/// idempotency, scheduling wake-ups — is the API's own; only the API-key check is replaced by
/// the caller's organization, carried in a task-local that no network request can set.
public struct InProcessAPI: Sendable {
    let responder: RouterResponder<APIContext>
    let logger: Logger

    public init(app: ControlPlane) {
        responder = buildRouter(app).buildResponder()
        logger = app.logger
    }

    /// The answer of one call: status, content type and body bytes.
    public struct Answer: Sendable {
        public var status: Int
        public var contentType: String
        public var headers: HTTPFields
        public var body: [UInt8]

        public var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// Calls `method path` (path with its query, e.g. `/v1/runs?limit=5`) as `organizationID`.
    public func call(
        _ method: HTTPRequest.Method, _ path: String, organizationID: String, body: [UInt8] = [],
        headers extra: HTTPFields = [:]
    ) async -> Answer {
        var fields = extra
        if !body.isEmpty, fields[.contentType] == nil { fields[.contentType] = "application/json" }
        let head = HTTPRequest(
            method: method, scheme: "http", authority: "in-process", path: path, headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
        let context = APIContext(logger: logger)
        return await InProcessCaller.$organizationID.withValue(organizationID) {
            do {
                let response = try await responder.respond(to: request, context: context)
                let collector = BodyCollector()
                try await response.body.write(CollectingWriter(collector: collector))
                return Answer(
                    status: response.status.code, contentType: response.headers[.contentType] ?? "",
                    headers: response.headers, body: collector.bytes.withLock { $0 })
            } catch let error as HTTPResponseError {
                return Answer(status: error.status.code, contentType: "text/plain", headers: [:], body: [])
            } catch {
                let answer = APIResponse.from(error: error).response()
                return Answer(status: answer.status.code, contentType: "application/json", headers: [:], body: [])
            }
        }
    }
}

/// The organization of an in-process call; nil for every request from the network.
enum InProcessCaller {
    @TaskLocal static var organizationID: String?
}

private final class BodyCollector: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

private struct CollectingWriter: ResponseBodyWriter {
    let collector: BodyCollector

    mutating func write(_ buffer: ByteBuffer) async throws {
        collector.bytes.withLock { $0 += Array(buffer: buffer) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

struct LoggerContextSource: RequestContextSource {
    let logger: Logger
}

extension APIContext {
    /// A context for a request that did not come from a channel.
    init(logger: Logger) {
        coreContext = CoreRequestContextStorage(source: LoggerContextSource(logger: logger))
    }
}
