import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import HTTPTypes

/// The v1 API in process as one organization, with its answers as JSON values.
struct OrgAPI: Sendable {
    let api: InProcessAPI
    let organizationID: String

    /// What a change answered: the resource, or the API's message and the fields it names.
    enum Outcome {
        case ok(JSONValue)
        case failed(status: Int, message: String, fields: [String: String])
    }

    /// A GET whose failure is the page's failure: 404 becomes the page's 404 ("not found",
    /// exactly as in the API for another organization's id).
    func get(_ path: String) async throws -> JSONValue {
        let answer = await api.call(.get, path, organizationID: organizationID)
        guard answer.isSuccess else {
            let (message, _) = Self.detail(answer.body)
            if answer.status == 404 || answer.status == 422 {
                throw PageError.notFound(message ?? "Not found.")
            }
            throw PageError.failed(status: answer.status, message: message ?? "The API answered \(answer.status).")
        }
        return (try? JSONParser.parse(bytes: answer.body)) ?? .null
    }

    /// A GET decoded into a type that names only the fields a page needs: much cheaper than a
    /// `JSONValue` for long lists (a select of every machine).
    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let answer = await api.call(.get, path, organizationID: organizationID)
        guard answer.isSuccess else {
            let (message, _) = Self.detail(answer.body)
            throw PageError.failed(status: answer.status, message: message ?? "The API answered \(answer.status).")
        }
        return try APIJSON.decode(T.self, from: answer.body)
    }

    /// A GET of raw bytes (screenshots, attachments); nil when it failed.
    func bytes(_ path: String, headers: HTTPFields = [:]) async -> InProcessAPI.Answer {
        await api.call(.get, path, organizationID: organizationID, headers: headers)
    }

    func send(_ method: HTTPRequest.Method, _ path: String, _ body: JSONValue? = nil) async -> Outcome {
        let bytes = body.map { (try? APIJSON.encoder().encode($0)).map(Array.init) ?? [] } ?? []
        let answer = await api.call(method, path, organizationID: organizationID, body: bytes)
        guard answer.isSuccess else {
            let (message, fields) = Self.detail(answer.body)
            return .failed(
                status: answer.status, message: message ?? "The API answered \(answer.status).", fields: fields)
        }
        if answer.body.isEmpty { return .ok(.null) }
        return .ok((try? JSONParser.parse(bytes: answer.body)) ?? .null)
    }

    /// The API's error body: `{"detail": "message"}` or FastAPI's list of
    /// `{"loc": [...], "msg": ...}`, whose last `loc` part names the field.
    static func detail(_ body: [UInt8]) -> (String?, [String: String]) {
        guard let value = try? JSONParser.parse(bytes: body),
            case .object(let object) = value, let detail = object["detail"]
        else { return (nil, [:]) }
        switch detail {
        case .string(let message): return (message, [:])
        case .array(let items):
            var fields: [String: String] = [:]
            var messages: [String] = []
            for case .object(let item) in items {
                let message = item["msg"]?.stringValue ?? "invalid"
                messages.append(message)
                if case .array(let loc)? = item["loc"], let last = loc.last {
                    let field: String
                    switch last {
                    case .string(let name): field = name
                    case .int: field = loc.dropLast().last?.stringValue ?? ""
                    default: field = ""
                    }
                    if !field.isEmpty, fields[field] == nil { fields[field] = message }
                }
            }
            return (messages.joined(separator: "; "), fields)
        default: return (nil, [:])
        }
    }
}
