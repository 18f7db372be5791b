import AsyncHTTPClient
import CyberdeskAPI
import Logging
import NIOCore

/// The HTTP side of a model call, common to both providers: one POST per attempt, each limited
/// to `timeout_seconds`; retries with backoff on 429, 5xx, timeouts and transport errors, at
/// most `max_retries`; 401/403 and other 4xx answered at once; cancellation of the calling task
/// stops everything, including a backoff wait, and is never retried.
///
/// Every error detail goes through ``Redactor`` before it leaves: providers echo parts of a
/// refused key ("Incorrect API key provided: sk-ab***yz"), and errors end up in a run's `error`.
struct ModelTransport: Sendable {
    var endpoint: ModelEndpoint
    var httpClient: HTTPClient
    var logger: Logger
    var retry: RetryPolicy

    /// A response body larger than this is a transport error: no model answer is this big, and
    /// the server must not hold an unbounded buffer for a misbehaving endpoint.
    static let maxResponseBytes = 32 << 20

    /// Sends `wire` until it gets a 2xx, then parses it; the number of attempts it took.
    func send<T>(
        _ wire: WireRequest, parse: ([UInt8]) throws(ModelError) -> T
    ) async throws(ModelError) -> (T, attempts: Int) {
        let name = endpoint.name
        let redactor = Redactor(secret: endpoint.apiKey)
        var attempt = 0
        while true {
            attempt += 1
            guard !Task.isCancelled else { throw .cancelled(configuration: name) }
            let failure: ModelError
            var retryAfter: Double?
            switch await attemptOnce(wire) {
            case .cancelled:
                throw .cancelled(configuration: name)
            case .response(let status, _, let body) where (200..<300).contains(status):
                let parsed: T
                do {
                    parsed = try parse(body)
                } catch {
                    // A parse error quotes the body; a body could quote the request's headers.
                    if case .malformed(let configuration, let detail) = error {
                        throw .malformed(configuration: configuration, detail: redactor.redact(detail))
                    }
                    throw error
                }
                logger.debug(
                    "model answered",
                    metadata: [
                        "model.configuration": "\(name)", "model.attempts": "\(attempt)", "http.status": "\(status)",
                    ])
                return (parsed, attempt)
            case .response(let status, let retryAfterHeader, let body):
                let detail = redactor.redact(ProviderErrorBody.message(body, status: status))
                retryAfter = retry.retryAfterSeconds(retryAfterHeader)
                switch status {
                case 401, 403:
                    throw .unauthorized(configuration: name, detail: "HTTP \(status): \(detail)")
                case 429:
                    failure = .rateLimited(configuration: name, retryAfter: retryAfter)
                case 500...599:
                    failure = .server(configuration: name, status: status, detail: detail)
                default:
                    throw .server(configuration: name, status: status, detail: detail)
                }
                logger.warning(
                    "model call answered with an error status",
                    metadata: [
                        "model.configuration": "\(name)", "http.status": "\(status)", "model.attempt": "\(attempt)",
                    ])
            case .timedOut:
                failure = .timeout(configuration: name, seconds: endpoint.timeoutSeconds)
                logger.warning(
                    "model call timed out",
                    metadata: [
                        "model.configuration": "\(name)", "model.attempt": "\(attempt)",
                        "model.timeout_seconds": "\(endpoint.timeoutSeconds)",
                    ])
            case .transport(let detail):
                let safe = redactor.redact(detail)
                failure = .transport(configuration: name, detail: safe)
                logger.warning(
                    "model call could not reach the model",
                    metadata: ["model.configuration": "\(name)", "model.attempt": "\(attempt)", "error": "\(safe)"])
            }
            guard attempt <= max(0, endpoint.maxRetries) else { throw failure }
            let delay = retry.delay(beforeRetry: attempt, retryAfter: retryAfter)
            logger.info(
                "retrying model call",
                metadata: [
                    "model.configuration": "\(name)", "model.retry": "\(attempt)",
                    "model.retry_delay_seconds": "\(delay)",
                ])
            do {
                try await retry.sleep(delay)
            } catch {
                throw .cancelled(configuration: name)
            }
        }
    }

    private enum Outcome: Sendable {
        /// `retryAfter`: the `retry-after` header, else `retry-after-ms` (OpenAI) as seconds.
        case response(status: Int, retryAfter: String?, body: [UInt8])
        case timedOut
        case transport(String)
        case cancelled
    }

    /// One attempt raced against `timeout_seconds` on the wall clock. AsyncHTTPClient's deadline
    /// covers the response head only, and a model that stalls mid-body must time out too; the
    /// loser is cancelled, which closes its connection.
    private func attemptOnce(_ wire: WireRequest) async -> Outcome {
        let timeout = max(0.001, endpoint.timeoutSeconds)
        var request = HTTPClientRequest(url: wire.url)
        request.method = .POST
        for header in wire.headers { request.headers.add(name: header.name, value: header.value) }
        request.headers.replaceOrAdd(name: "content-type", value: "application/json")
        request.body = .bytes(wire.body)
        let client = httpClient
        let finalRequest = request
        return await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                do {
                    // A backstop only: the timer below is what ends a slow attempt.
                    let response = try await client.execute(
                        finalRequest, timeout: .milliseconds(Int64(timeout * 1000) + 5000))
                    let body = try await response.body.collect(upTo: Self.maxResponseBytes)
                    let retryAfter =
                        response.headers.first(name: "retry-after")
                        ?? response.headers.first(name: "retry-after-ms").flatMap { Double($0) }.map {
                            String($0 / 1000)
                        }
                    return .response(
                        status: Int(response.status.code), retryAfter: retryAfter, body: Array(body.readableBytesView))
                } catch {
                    if Task.isCancelled { return .cancelled }
                    if let error = error as? HTTPClientError,
                        [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error)
                    {
                        return .timedOut
                    }
                    return .transport(Self.describe(error))
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: .milliseconds(Int64((timeout * 1000).rounded(.up))))
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            group.cancelAll()
            return Task.isCancelled ? .cancelled : first
        }
    }

    /// A transport error as a short, stable phrase ("connection refused"), not a type dump.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("connection refused") { return "connection refused" }
        if lower.contains("remoteconnectionclosed") { return "the server closed the connection" }
        if lower.contains("dns") || lower.contains("unknown host") || lower.contains("name or service") {
            return "the host name does not resolve (\(text.prefix(160)))"
        }
        if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
            return "TLS failed (\(text.prefix(160)))"
        }
        return String(text.prefix(200))
    }
}

/// Removes an API key, and any word holding 8 or more consecutive characters of it, from text
/// bound for an error message or a log line.
struct Redactor: Sendable {
    var secret: String?

    func redact(_ text: String) -> String {
        guard let secret, secret.count >= 4 else { return text }
        var result = text.replacing(secret, with: "[redacted]")
        let key = Array(secret)
        guard key.count >= 8 else { return result }
        let windows = Set((0...(key.count - 8)).map { String(key[$0..<($0 + 8)]) })
        let words = result.split(whereSeparator: { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "," })
        for word in Set(words.map(String.init)) where word.count >= 8 {
            let chars = Array(word)
            let leaks = (0...(chars.count - 8)).contains { windows.contains(String(chars[$0..<($0 + 8)])) }
            if leaks { result = result.replacing(word, with: "[redacted]") }
        }
        return result
    }
}

/// The provider's own error message from an error body: Anthropic
/// `{"type":"error","error":{"type":…,"message":…}}`, OpenAI `{"error":{"message":…}}`,
/// Ollama `{"error":"…"}`, FastAPI-style servers (vLLM) `{"detail":…}` or `{"message":…}`; the
/// start of the body otherwise. At most 300 characters.
enum ProviderErrorBody {
    static func message(_ body: [UInt8], status: Int) -> String {
        var text: String?
        if let object = try? WireJSON.decodeObject(body, configuration: "") {
            if let error = object["error"] {
                text = error.objectValue?["message"]?.stringValue ?? error.stringValue
                if text == nil, let type = error.objectValue?["type"]?.stringValue { text = type }
            }
            if text == nil { text = object["message"]?.stringValue }
            if text == nil, let detail = object["detail"] { text = detail.stringValue ?? detail.compactJSON }
        }
        if text == nil, !body.isEmpty { text = WireJSON.preview(body, limit: 300) }
        let message = text.map(WireJSON.trimmed) ?? ""
        if message.isEmpty { return "no error message in the HTTP \(status) body" }
        return message.count > 300 ? String(message.prefix(300)) + "…" : message
    }
}
