import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// One authenticated API request as handlers see it: the caller's organization, the
/// collected body and typed access to path and query parameters. Every accessor turns bad
/// input into FastAPI's 422 so handlers never see malformed data.
public struct APICall: Sendable {
    public let request: Request
    public let context: APIContext
    public let organizationID: String
    public let body: [UInt8]
    public let app: ControlPlane


    /// A path parameter that must be a UUID.
    public func id(_ name: String = "id") throws -> String {
        let value = context.parameters.get(name) ?? ""
        guard let id = UUIDText.normalized(value) else {
            throw RequestValidationError(
                loc: ["path", .string(name)], msg: "Input should be a valid UUID, got '\(value)'", type: "uuid_parsing")
        }
        return id
    }

    /// The record named by the path's `id` in the caller's organization, or a 404 that says
    /// which kind of thing was not found.
    public func record<R: StoredRecord>(_ type: R.Type, named noun: String) async throws -> R {
        let id = try self.id()
        let organizationID = self.organizationID
        guard
            let record = try await app.store.transaction({
                try await $0.fetch(R.self, id: id, organizationID: organizationID, forUpdate: false)
            })
        else { throw ControlPlaneError.notFound("\(noun) \(id) not found") }
        return record
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !body.isEmpty else {
            throw RequestValidationError(loc: ["body"], msg: "Field required", type: "missing")
        }
        do {
            return try APIJSON.decode(T.self, from: body)
        } catch let error as DecodingError {
            throw RequestValidationError.from(error)
        }
    }

    /// The body as a JSON object, for `PATCH` requests where a key set to `null` differs
    /// from a key left out.
    public func object() throws -> JSONObject {
        guard case .object(let object) = try decode(JSONValue.self) else {
            throw RequestValidationError(loc: ["body"], msg: "Input should be a valid dictionary", type: "dict_type")
        }
        return object
    }

    public func query(_ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init)
    }

    public func queryAll(_ name: String) -> [String] {
        request.uri.queryParameters[values: Substring(name)].map(String.init)
    }

    public func queryInt(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = query(name), !text.isEmpty else { return value }
        guard let parsed = Int(text) else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be a valid integer", type: "int_parsing")
        }
        guard parsed >= range.lowerBound else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be greater than or equal to \(range.lowerBound)",
                type: "greater_than_equal")
        }
        guard parsed <= range.upperBound else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be less than or equal to \(range.upperBound)",
                type: "less_than_equal")
        }
        return parsed
    }

    public func queryBool(_ name: String) throws -> Bool? {
        guard let text = query(name), !text.isEmpty else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be a valid boolean", type: "bool_parsing")
        }
    }

    public func queryUUID(_ name: String) throws -> String? {
        guard let text = query(name), !text.isEmpty else { return nil }
        guard let id = UUIDText.normalized(text) else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be a valid UUID", type: "uuid_parsing")
        }
        return id
    }

    public func queryDate(_ name: String) throws -> Date? {
        guard let text = query(name), !text.isEmpty else { return nil }
        guard let date = APIJSON.parseTimestamp(text) else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be a valid datetime", type: "datetime_parsing")
        }
        return date
    }

    public func queryEnum<E: RawRepresentable>(_ name: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        guard let text = query(name), !text.isEmpty else { return nil }
        guard let value = E(rawValue: text) else {
            throw RequestValidationError(
                loc: ["query", .string(name)], msg: "Input should be a valid \(E.self) value", type: "enum")
        }
        return value
    }

    /// `?include=a,b` (also repeated `include=`), lowercased.
    public var includes: Set<String> {
        Set(
            queryAll("include").flatMap { $0.split(separator: ",") }.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            })
    }

    public var skip: Int { get throws { try queryInt("skip", default: 0, in: 0...Int(Int32.max)) } }
    public var limit: Int { get throws { try queryInt("limit", default: 100, in: 1...1000) } }

    /// Filters shared by list endpoints: `created_at_from/to`, `updated_at_from/to`.
    public func dateFilters(updated: Bool = false) throws -> [RecordFilter] {
        var filters: [RecordFilter] = []
        if let from = try queryDate("created_at_from") { filters.append(.atLeast("created_at", .date(from))) }
        if let to = try queryDate("created_at_to") { filters.append(.atMost("created_at", .date(to))) }
        if updated {
            if let from = try queryDate("updated_at_from") { filters.append(.atLeast("updated_at", .date(from))) }
            if let to = try queryDate("updated_at_to") { filters.append(.atMost("updated_at", .date(to))) }
        }
        return filters
    }

    /// The base URL clients reach this server at.
    public var baseURL: String {
        if let configured = app.publicURL { return configured }
        let host = request.head.authority ?? "127.0.0.1"
        return "http://" + host
    }
}

/// UUID strings as the API uses them: lowercase, hyphenated.
public enum UUIDText {
    public static func normalized(_ text: String) -> String? {
        UUID(uuidString: text).map { $0.uuidString.lowercased() }
    }

    public static func new() -> String { UUID().uuidString.lowercased() }
}

/// Typed access to members of a `PATCH` body, with 422s that name the field.
public struct PatchBody: Sendable {
    public let object: JSONObject

    public init(_ object: JSONObject) { self.object = object }

    public func has(_ key: String) -> Bool { object[key] != nil }

    private func mismatch(_ key: String, _ type: String) -> RequestValidationError {
        RequestValidationError(
            loc: ["body", .string(key)], msg: "Input should be a valid \(type)", type: "\(type)_type")
    }

    /// `.some(nil)` when the key is present and null.
    public func string(_ key: String) throws -> String?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .string(let text): return .some(text)
        default: throw mismatch(key, "string")
        }
    }

    public func bool(_ key: String) throws -> Bool?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .bool(let flag): return .some(flag)
        default: throw mismatch(key, "boolean")
        }
    }

    public func dictionary(_ key: String) throws -> JSONObject?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .object(let members): return .some(members)
        default: throw mismatch(key, "dictionary")
        }
    }

    public func array(_ key: String) throws -> [JSONValue]?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .array(let items): return .some(items)
        default: throw mismatch(key, "list")
        }
    }

    public func strings(_ key: String) throws -> [String]?? {
        guard let items = try array(key) else { return nil }
        guard let items else { return .some(nil) }
        return .some(
            try items.map {
                guard case .string(let text) = $0 else { throw mismatch(key, "list of strings") }
                return text
            })
    }

    public func uuid(_ key: String) throws -> String?? {
        guard let text = try string(key) else { return nil }
        guard let text else { return .some(nil) }
        guard let id = UUIDText.normalized(text) else {
            throw RequestValidationError(
                loc: ["body", .string(key)], msg: "Input should be a valid UUID", type: "uuid_parsing")
        }
        return .some(id)
    }

    public func date(_ key: String) throws -> Date?? {
        guard let text = try string(key) else { return nil }
        guard let text else { return .some(nil) }
        guard let date = APIJSON.parseTimestamp(text) else {
            throw RequestValidationError(
                loc: ["body", .string(key)], msg: "Input should be a valid datetime", type: "datetime_parsing")
        }
        return .some(date)
    }
}

/// Checks on ids inside decoded bodies.
func requireUUID(_ value: String, field: String) throws -> String {
    guard let id = UUIDText.normalized(value) else {
        throw RequestValidationError(
            loc: ["body", .string(field)], msg: "Input should be a valid UUID", type: "uuid_parsing")
    }
    return id
}

func requireUUIDs(_ values: [String]?, field: String) throws -> [String]? {
    guard let values else { return nil }
    return try values.enumerated().map { index, value in
        guard let id = UUIDText.normalized(value) else {
            throw RequestValidationError(
                loc: ["body", .string(field), .int(Int64(index))], msg: "Input should be a valid UUID",
                type: "uuid_parsing")
        }
        return id
    }
}
