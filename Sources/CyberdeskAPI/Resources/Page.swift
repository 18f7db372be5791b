/// One page of a list: `items`, `total`, `skip`, `limit` (all four required by the SDK),
/// and with `?include=` the related resources in `included`.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var total: Int
    public var skip: Int
    public var limit: Int
    public var included: [JSONObject]?

    public init(items: [Item], total: Int, skip: Int, limit: Int, included: [JSONObject]? = nil) {
        self.items = items
        self.total = total
        self.skip = skip
        self.limit = limit
        self.included = included
    }
}

/// The body of every business error (400, 401, 403, 404, 409, 413, 503): `{"detail": "..."}`.
public struct ErrorDetail: Codable, Sendable {
    public var detail: String

    public init(detail: String) { self.detail = detail }
}

/// FastAPI's 422 body, which the SDK parses: `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.
public struct ValidationErrorBody: Codable, Sendable {
    public struct Item: Codable, Sendable {
        public var loc: [JSONValue]
        public var msg: String
        public var type: String

        public init(loc: [JSONValue], msg: String, type: String) {
            self.loc = loc
            self.msg = msg
            self.type = type
        }
    }

    public var detail: [Item]

    public init(detail: [Item]) { self.detail = detail }
}
