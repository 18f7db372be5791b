import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird
import NIOCore

/// What a handler answers: JSON with a status, an empty 204, or raw bytes.
public enum APIResponse: Sendable {
    case json(HTTPResponse.Status, [UInt8])
    case empty
    case bytes([UInt8], contentType: String, headers: HTTPFields)
    /// A blob sent in chunks as it is read, never whole in memory.
    case stream(any BlobReader, contentType: String, headers: HTTPFields)

    private static let encoder = APIJSON.encoder()

    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> APIResponse {
        .json(status, Array(try encoder.encode(value)))
    }

    public static func detail(_ status: HTTPResponse.Status, _ message: String) -> APIResponse {
        .json(status, (try? Array(encoder.encode(ErrorDetail(detail: message)))) ?? [])
    }

    /// FastAPI's 422 shape, which the SDK parses into `HTTPValidationError`.
    public static func validation(_ items: [ValidationErrorBody.Item]) -> APIResponse {
        .json(.unprocessableContent, (try? Array(encoder.encode(ValidationErrorBody(detail: items)))) ?? [])
    }

    var status: HTTPResponse.Status {
        switch self {
        case .json(let status, _): status
        case .empty: .noContent
        case .bytes, .stream: .ok
        }
    }

    func response(extraHeaders: HTTPFields = [:]) -> Response {
        switch self {
        case .json(let status, let body):
            var headers = extraHeaders
            headers[.contentType] = "application/json"
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        case .empty:
            return Response(status: .noContent, headers: extraHeaders)
        case .bytes(let body, let contentType, let headers):
            var all = extraHeaders
            all.append(contentsOf: headers)
            all[.contentType] = contentType
            return Response(status: .ok, headers: all, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        case .stream(let reader, let contentType, let headers):
            var all = extraHeaders
            all.append(contentsOf: headers)
            all[.contentType] = contentType
            let body = ResponseBody(contentLength: Int(reader.size)) { writer in
                while true {
                    let chunk = try await reader.next()
                    if chunk.isEmpty { break }
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: all, body: body)
        }
    }

    /// The response for an error thrown by a handler or the layers below it.
    static func from(error: any Error) -> APIResponse {
        switch error {
        case let error as ControlPlaneError:
            let status: HTTPResponse.Status =
                switch error {
                case .badRequest: .badRequest
                case .unauthorized: .unauthorized
                case .forbidden: .forbidden
                case .notFound: .notFound
                case .conflict: .conflict
                case .tooLarge: .contentTooLarge
                case .unavailable: .serviceUnavailable
                case .gatewayTimeout: .gatewayTimeout
                }
            return .detail(status, error.description)
        case let error as RequestValidationError:
            return .validation(error.items)
        case let error as ModelResolutionError:
            return .detail(.badRequest, error.description)
        case let error as StoreError:
            switch error {
            case .conflict(let message):
                return .detail(.conflict, "the change conflicts with existing data: \(message)")
            case .unavailable(let message): return .detail(.serviceUnavailable, message)
            case .corrupt(let message): return .detail(.internalServerError, message)
            }
        case is NIOTooManyBytesError:
            return .detail(.contentTooLarge, "the request body is larger than the server accepts")
        default:
            return .detail(.internalServerError, "internal error: \(error)")
        }
    }
}

/// A malformed request: answered 422 in FastAPI's shape.
public struct RequestValidationError: Error, Sendable {
    public var items: [ValidationErrorBody.Item]

    public init(_ items: [ValidationErrorBody.Item]) { self.items = items }

    public init(loc: [JSONValue], msg: String, type: String) {
        items = [ValidationErrorBody.Item(loc: loc, msg: msg, type: type)]
    }

    /// Translates a `DecodingError` from a request body into FastAPI's vocabulary.
    static func from(_ error: DecodingError) -> RequestValidationError {
        func path(_ codingPath: [any CodingKey]) -> [JSONValue] {
            ["body"] + codingPath.map { key in key.intValue.map { .int(Int64($0)) } ?? .string(key.stringValue) }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return RequestValidationError(loc: path(context.codingPath + [key]), msg: "Field required", type: "missing")
        case .valueNotFound(let type, let context):
            return RequestValidationError(
                loc: path(context.codingPath), msg: "Input should be a valid \(APITypeName.of(type)), not null",
                type: "missing")
        case .typeMismatch(let type, let context):
            return RequestValidationError(
                loc: path(context.codingPath), msg: "Input should be a valid \(APITypeName.of(type))",
                type: "\(APITypeName.of(type))_type")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return RequestValidationError(loc: ["body"], msg: "JSON decode error", type: "json_invalid")
            }
            return RequestValidationError(
                loc: path(context.codingPath), msg: context.debugDescription, type: "value_error")
        @unknown default:
            return RequestValidationError(loc: ["body"], msg: "invalid body", type: "value_error")
        }
    }
}

enum APITypeName {
    static func of(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Bool.Type: "boolean"
        case is Int.Type, is Int64.Type: "integer"
        case is Double.Type: "number"
        case is [JSONValue].Type: "list"
        default:
            String(describing: type).hasPrefix("Array") ? "list" : "dictionary"
        }
    }
}
