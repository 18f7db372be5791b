import CyberdeskAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One HTTP request to a provider, built by an adapter. Holds the API key in `headers`: never
/// logged, never put in an error.
struct WireRequest: Sendable {
    var url: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
}

/// What an adapter knows about its provider: how a ``ModelRequest`` is written and how an
/// answer is read. ``ModelTransport`` adds the HTTP, retry and timeout rules common to both.
protocol WireFormat: ModelAdapter {
    var endpoint: ModelEndpoint { get }
    var transport: ModelTransport { get }
    func wireRequest(for request: ModelRequest) throws(ModelError) -> WireRequest
    /// The smallest real call: max_tokens 1, "ping", no tools.
    func validationRequest() throws(ModelError) -> WireRequest
    func parseTurn(_ body: [UInt8]) throws(ModelError) -> ModelTurn
}

/// Both adapters call their provider the same way; only the wire format differs.
extension WireFormat {
    public func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
        let wire = try wireRequest(for: request)
        let (parsed, attempts) = try await transport.send(wire, parse: parseTurn)
        var turn = parsed
        turn.attempts = attempts
        return turn
    }

    public func validate() async throws(ModelError) {
        _ = try await transport.send(try validationRequest(), parse: parseTurn)
    }
}

/// JSON helpers shared by the adapters.
enum WireJSON {
    static func encode(_ object: JSONObject) -> [UInt8] {
        Array(JSONValue.object(object).compactJSON.utf8)
    }

    /// The body as a JSON object, or `.malformed` quoting the start of what came instead.
    static func decodeObject(_ body: [UInt8], configuration: String) throws(ModelError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw .malformed(configuration: configuration, detail: "the body is not JSON: \(preview(body))")
        }
        guard let object = value.objectValue else {
            throw .malformed(configuration: configuration, detail: "the body is JSON \(value.typeName), not an object")
        }
        return object
    }

    /// The start of a body as text, for error messages.
    static func preview(_ body: [UInt8], limit: Int = 120) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        let cleaned = String(text.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) })
        return cleaned.count > limit ? String(cleaned.prefix(limit)) + "…" : cleaned
    }

    static func trimmed(_ text: String) -> String {
        String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// `base_url` from `additional_params` (else the provider's), without a trailing slash;
    /// `.invalidConfiguration` unless it is an http(s) URL.
    static func baseURL(_ endpoint: ModelEndpoint, default fallback: String) throws(ModelError) -> String {
        var base = fallback
        if let value = endpoint.additionalParams["base_url"], value != .null {
            guard let text = value.stringValue.map(trimmed), !text.isEmpty else {
                throw .invalidConfiguration(
                    configuration: endpoint.name, detail: "additional_params.base_url must be a URL string")
            }
            base = text
        }
        let lower = base.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), base.count > 8 else {
            throw .invalidConfiguration(
                configuration: endpoint.name,
                detail: "additional_params.base_url '\(base.prefix(200))' is not an http:// or https:// URL")
        }
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    /// `{base}/v1/{path}`, or `{base}/{path}` when the base already ends in `/v1` (OpenAI-compatible
    /// servers are usually configured as `http://host:8000/v1`).
    static func versionedURL(base: String, path: String) -> String {
        base.hasSuffix("/v1") ? "\(base)/\(path)" : "\(base)/v1/\(path)"
    }

    /// `additional_params.headers` (or `extra_headers`): string values only.
    static func extraHeaders(_ endpoint: ModelEndpoint) -> [(name: String, value: String)] {
        let object =
            endpoint.additionalParams["headers"]?.objectValue ?? endpoint.additionalParams["extra_headers"]?
            .objectValue ?? [:]
        return object.keys.sorted().compactMap { key in object[key]?.stringValue.map { (key, $0) } }
    }

    /// The text parts of a message joined, for providers that want a plain string.
    static func joinedText(_ parts: [ContentPart]) -> String {
        parts.compactMap { part in
            if case .text(let text) = part { return text }
            return nil
        }.joined(separator: "\n")
    }
}
