import AsyncHTTPClient
import Crypto
import CyberdeskAPI
import CyberdeskRelease
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// The agent's side of the protocol: one method per endpoint, typed answers, typed errors.
/// It holds the machine credential and never logs it.
public struct AgentClient: Sendable {
    public let server: String
    let credential: String
    let http: HTTPClient

    /// The daemon's HTTP client. A refused or failed connection fails the call at once
    /// instead of being retried inside AsyncHTTPClient until its connect timeout (with its
    /// own, barely jittered backoff and nothing logged): the daemon's full-jitter backoff
    /// decides when to try again and says so in its log and status, so agents that lost
    /// the server together do not come back in step. Never shut down: it lives as long as
    /// the process.
    public static let defaultHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(server: String, credential: String, http: HTTPClient = AgentClient.defaultHTTP) {
        var base = server
        while base.hasSuffix("/") { base.removeLast() }
        self.server = base
        self.credential = credential
        self.http = http
    }

    private static let encoder = APIJSON.encoder()
    private static let decoder = APIJSON.decoder()

    /// Sends one request; returns status, headers and body. Transport failures become
    /// `AgentClientError.transport`.
    func send(
        _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
        headers extra: [(String, String)] = [], timeout: TimeAmount = .seconds(30), maxResponse: Int = 200 << 20
    ) async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer " + credential)
        request.headers.add(name: "User-Agent", value: "cyberdesk-agent/\(AgentVersion.current)")
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: maxResponse)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            return (Int(response.status.code), response.headers, bytes)
        } catch let error as AgentClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentClientError.transport("\(method) \(path): \(error)")
        }
    }

    /// A JSON call: checks the status and decodes the answer (nil for 204).
    func call<Response: Decodable>(
        _ method: HTTPMethod, _ path: String, json body: (some Encodable)? = nil as Int?,
        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30), as type: Response.Type
    ) async throws -> Response? {
        let bytes = try body.map { Array(try Self.encoder.encode($0)) }
        let answer = try await send(method, path, body: bytes, headers: headers, timeout: timeout)
        try Self.check(answer.status, answer.headers, answer.body, path: path)
        if answer.status == 204 || answer.body.isEmpty { return nil }
        do {
            return try APIJSON.decode(Response.self, from: answer.body)
        } catch {
            throw AgentClientError.protocolViolation("\(path): unexpected answer: \(error)")
        }
    }

    static func check(_ status: Int, _ headers: HTTPHeaders, _ body: [UInt8], path: String) throws {
        guard !(200..<300).contains(status) else { return }
        let detail =
            (try? decoder.decode(ErrorDetail.self, from: Data(body)).detail)
            ?? String(decoding: body.prefix(500), as: UTF8.self)
        switch status {
        case 401, 403: throw AgentClientError.unauthorized(detail)
        case 404: throw AgentClientError.notFound(detail)
        case 409: throw AgentClientError.conflict(detail)
        case 408, 429, 500, 502, 503, 504:
            let retryAfter = headers.first(name: "Retry-After").flatMap(Double.init)
            throw AgentClientError.unavailable(status: status, detail: detail, retryAfter: retryAfter)
        default: throw AgentClientError.rejected(status: status, detail: "\(path): \(detail)")
        }
    }

    // MARK: Endpoints

    public func register(_ request: AgentRegisterRequest) async throws -> AgentRegisterResponse {
        guard let answer = try await call(.POST, "/v1/agent/register", json: request, as: AgentRegisterResponse.self)
        else { throw AgentClientError.protocolViolation("register answered without a body") }
        return answer
    }

    public func connect(_ request: AgentConnectRequest) async throws -> AgentConnectResponse {
        guard let answer = try await call(.POST, "/v1/agent/connect", json: request, as: AgentConnectResponse.self)
        else { throw AgentClientError.protocolViolation("connect answered without a body") }
        return answer
    }

    public func poll(connectionID: String, wait: Int, acknowledge: [String], draining: Bool) async throws
        -> [AgentMessage]
    {
        var path = "/v1/agent/poll?connection_id=\(connectionID)&wait=\(wait)"
        if !acknowledge.isEmpty { path += "&ack=" + acknowledge.joined(separator: ",") }
        if draining { path += "&draining=true" }
        let answer = try await call(
            .GET, path, timeout: .seconds(Int64(wait) + 15), as: AgentPollResponse.self)
        return answer?.messages ?? []
    }

    public func disconnect() async throws {
        _ = try await call(.POST, "/v1/agent/disconnect", as: ErrorDetail.self)
    }

    public func claim(runID: String, attempt: Int) async throws -> RunClaimResponse {
        guard
            let answer = try await call(
                .POST, "/v1/agent/runs/\(runID)/claim", json: [String: String](),
                headers: [("Idempotency-Key", "\(runID):\(attempt)")], as: RunClaimResponse.self)
        else { throw AgentClientError.protocolViolation("claim answered without a body") }
        return answer
    }

    public func start(runID: String, lease: String) async throws {
        _ = try await call(
            .POST, "/v1/agent/runs/\(runID)/start", json: LeaseRequest(leaseToken: lease), as: JSONValue.self)
    }

    /// Renews the lease; `events` (the history of the steps before `stepIndex`) are
    /// recorded in the same call.
    public func heartbeat(runID: String, lease: String, stepIndex: Int?, events: [JSONObject]? = nil) async throws
        -> HeartbeatResponse
    {
        guard
            let answer = try await call(
                .POST, "/v1/agent/runs/\(runID)/heartbeat",
                json: HeartbeatRequest(leaseToken: lease, stepIndex: stepIndex, events: events),
                as: HeartbeatResponse.self)
        else { throw AgentClientError.protocolViolation("heartbeat answered without a body") }
        return answer
    }

    /// The value of one sensitive input. The caller types it and drops it at once.
    public func secret(runID: String, lease: String, name: String) async throws -> JSONValue {
        let escaped = name.percentEncoded(keeping: "-._")
        guard
            let answer = try await call(
                .POST, "/v1/agent/runs/\(runID)/secrets/\(escaped)", json: LeaseRequest(leaseToken: lease),
                as: SecretResponse.self)
        else { throw AgentClientError.protocolViolation("secret answered without a body") }
        return answer.value
    }

    public func events(runID: String, lease: String, events: [JSONObject]) async throws {
        _ = try await call(
            .POST, "/v1/agent/runs/\(runID)/events", json: RunEventsRequest(leaseToken: lease, events: events),
            as: JSONValue.self)
    }

    /// The next steps of a run a model performs. The server calls the model meanwhile (its
    /// own timeouts and retries apply), so the answer may take minutes.
    public func plan(runID: String, request: PlanRequest) async throws -> PlanResponse {
        guard
            let answer = try await call(
                .POST, "/v1/agent/runs/\(runID)/plan", json: request, timeout: .seconds(1800), as: PlanResponse.self)
        else { throw AgentClientError.protocolViolation("plan answered without a body") }
        return answer
    }

    public func sameScreen(runID: String, request: SameScreenRequest) async throws -> SameScreenResponse {
        guard
            let answer = try await call(
                .POST, "/v1/agent/runs/\(runID)/same-screen", json: request, timeout: .seconds(600),
                as: SameScreenResponse.self)
        else { throw AgentClientError.protocolViolation("same-screen answered without a body") }
        return answer
    }

    public func complete(runID: String, request: RunCompleteRequest) async throws {
        _ = try await call(.POST, "/v1/agent/runs/\(runID)/complete", json: request, as: JSONValue.self)
    }

    /// Uploads bytes (a run image or an export) with their SHA-256 for the server to check.
    public func upload(
        runID: String, lease: String, kind: String, query: String, bytes: [UInt8], contentType: String, sha256: String
    ) async throws -> UploadResponse {
        let answer = try await send(
            .POST, "/v1/agent/runs/\(runID)/\(kind)\(query)", body: bytes, contentType: contentType,
            headers: [("X-Lease-Token", lease), ("X-Content-SHA256", sha256)], timeout: .seconds(300))
        try Self.check(answer.status, answer.headers, answer.body, path: kind)
        return try APIJSON.decode(UploadResponse.self, from: answer.body)
    }

    /// Streams an attachment into a new file at `path` (0600), hashing as it goes; never
    /// holds the file in memory. Returns its SHA-256 and size.
    public func download(attachmentID: String, to path: String, maxBytes: Int64) async throws -> (
        sha256: String, size: Int64
    ) {
        var request = HTTPClientRequest(url: server + "/v1/agent/attachments/\(attachmentID)/content")
        request.headers.add(name: "Authorization", value: "Bearer " + credential)
        request.headers.add(name: "User-Agent", value: "cyberdesk-agent/\(AgentVersion.current)")
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(3600))
        } catch {
            throw AgentClientError.transport("GET attachment \(attachmentID): \(error)")
        }
        guard response.status.code == 200 else {
            var body = try await response.body.collect(upTo: 1 << 20)
            try Self.check(
                Int(response.status.code), response.headers, body.readBytes(length: body.readableBytes) ?? [],
                path: "attachment content")
            throw AgentClientError.protocolViolation("attachment content answered \(response.status.code)")
        }
        let file = try StreamedFile(creating: path)
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            for try await buffer in response.body {
                size += Int64(buffer.readableBytes)
                guard size <= maxBytes else {
                    throw AgentClientError.protocolViolation(
                        "attachment \(attachmentID) is larger than \(maxBytes) bytes")
                }
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    try file.write(bytes)
                }
            }
            try file.finish()
        } catch let error as AgentClientError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw AgentClientError.transport("GET attachment \(attachmentID): \(error)")
        }
        return (SHA256Digest.hex(hasher.finalize()), size)
    }

    /// Uploads the file at `path`, streamed from disk in 64 KiB chunks, with its SHA-256
    /// (computed in a first pass) for the server to check.
    public func upload(
        runID: String, lease: String, kind: String, query: String, file path: String, contentType: String
    ) async throws -> UploadResponse {
        let (digest, size) = try StreamedFile.digest(of: path)
        var request = HTTPClientRequest(url: server + "/v1/agent/runs/\(runID)/\(kind)\(query)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + credential)
        request.headers.add(name: "User-Agent", value: "cyberdesk-agent/\(AgentVersion.current)")
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "X-Lease-Token", value: lease)
        request.headers.add(name: "X-Content-SHA256", value: digest)
        request.body = .stream(StreamedFile.chunks(of: path), length: .known(size))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(3600))
        } catch {
            throw AgentClientError.transport("upload \(path): \(error)")
        }
        var body = try await response.body.collect(upTo: 1 << 20)
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        try Self.check(Int(response.status.code), response.headers, bytes, path: kind)
        return try Self.decoder.decode(UploadResponse.self, from: Data(bytes))
    }

    public func commandResult(commandID: String, status: Int, contentType: String, body: [UInt8]) async throws {
        let answer = try await send(
            .POST, "/v1/agent/commands/\(commandID)/result", body: body, contentType: contentType,
            headers: [("X-Command-Status", String(status))], timeout: .seconds(60))
        try Self.check(answer.status, answer.headers, answer.body, path: "command result")
    }
}

/// Why a call failed, in the terms the daemon acts on.
public enum AgentClientError: Error, CustomStringConvertible, Equatable {
    /// The credential was refused: the machine was deleted or the key revoked. Do not retry.
    case unauthorized(String)
    case notFound(String)
    /// The run belongs to another attempt, or the connection was replaced.
    case conflict(String)
    /// The server asked to retry later (or failed transiently).
    case unavailable(status: Int, detail: String, retryAfter: Double?)
    /// The server refused the request for good.
    case rejected(status: Int, detail: String)
    /// No answer: connection refused, reset, timed out.
    case transport(String)
    /// An answer the protocol does not allow.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .unauthorized(let detail): "the server refused this machine's credential: \(detail)"
        case .notFound(let detail): "not found: \(detail)"
        case .conflict(let detail): "conflict: \(detail)"
        case .unavailable(let status, let detail, _): "server unavailable (\(status)): \(detail)"
        case .rejected(let status, let detail): "server refused the request (\(status)): \(detail)"
        case .transport(let detail): "cannot reach the server: \(detail)"
        case .protocolViolation(let detail): "protocol error: \(detail)"
        }
    }

    /// Whether trying again later may work.
    public var isTransient: Bool {
        switch self {
        case .unavailable, .transport: true
        default: false
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    /// Percent-encodes every byte but ASCII letters, digits and `keeping`, for URL paths and
    /// query values.
    func percentEncoded(keeping: String) -> String {
        let kept = Set(keeping.utf8)
        var escaped = ""
        for byte in utf8 {
            let plain =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || kept.contains(byte)
            escaped +=
                plain ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
        }
        return escaped
    }
}

public enum AgentVersion {
    public static let current = CyberdeskVersion.current
}
