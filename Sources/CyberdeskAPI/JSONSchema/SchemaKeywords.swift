/// The supported keywords of one schema object; absent keywords are nil or empty.
struct SchemaKeywords: Sendable {
    /// A numeric bound; `exclusive` comes from `exclusiveMinimum`/`exclusiveMaximum`, either
    /// as their own numbers (draft 6 and later) or as booleans next to `minimum`/`maximum`
    /// (draft 4).
    struct Bound: Sendable {
        var value: JSONValue
        var exclusive: Bool
    }

    var types: [String]?
    var enumValues: [JSONValue]?
    /// Wrapped in an array so that `"const": null` (a real constraint) differs from no const.
    var constValue: [JSONValue] = []

    var minimums: [Bound] = []
    var maximums: [Bound] = []
    var multipleOf: JSONValue?

    var minLength: Int?
    var maxLength: Int?
    var pattern: String?

    var items: SchemaNode?
    var tupleItems: [SchemaNode]?
    var minItems: Int?
    var maxItems: Int?
    var uniqueItems = false

    var properties: [String: SchemaNode] = [:]
    var patternProperties: [(pattern: String, schema: SchemaNode)] = []
    var additionalProperties: SchemaNode?
    var required: [String] = []
    var minProperties: Int?
    var maxProperties: Int?

    var allOf: [SchemaNode] = []
    var anyOf: [SchemaNode]?
    var oneOf: [SchemaNode]?
    var not: SchemaNode?
    var ifSchema: SchemaNode?
    var thenSchema: SchemaNode?
    var elseSchema: SchemaNode?

    /// The `$ref` as written; its target is compiled in ``JSONSchema``'s reference table.
    var ref: String?
}
