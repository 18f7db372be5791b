#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A JSON Schema, as given in a workflow's `input_schema`, ready to validate run inputs.
///
/// Supported keywords, the ones form inputs use: `type` (a name or an array; `integer`
/// accepts `3.0`), `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`,
/// `exclusiveMaximum` (numbers, or draft 4 booleans), `multipleOf`, `minLength`, `maxLength`
/// (in Unicode scalars), `pattern` (unanchored), `items` (a schema, or an array of schemas
/// for positions), `minItems`, `maxItems`, `uniqueItems`, `properties`, `patternProperties`,
/// `additionalProperties`, `required`, `minProperties`, `maxProperties`, `allOf`, `anyOf`,
/// `oneOf`, `not`, `if`/`then`/`else`, and `$ref` to a pointer inside the schema (`#`,
/// `#/definitions/…`, `#/$defs/…`). `$ref` applies together with its sibling keywords (as in
/// 2019-09 and later). `format`, `title`, `description`, `default`, `examples` and any
/// unknown keyword are annotations and ignored.
///
/// Patterns use Swift's `Regex`, whose syntax covers what schemas commonly use (classes,
/// quantifiers, anchors, groups, lookahead); `\d` and `\w` are ASCII-only as in ECMA-262.
///
/// The values of supported keywords are checked when the schema is loaded (a `minimum`
/// that is not a number, a pattern that does not compile, a `$ref` to nothing or in a loop
/// are errors), so a workflow cannot be saved with a schema that fails later.
public struct JSONSchema: Sendable {
    /// The schema as parsed.
    public let document: JSONValue
    private let root: SchemaNode
    private let references: [String: SchemaNode]

    /// Documents nested deeper than this are refused before decoding, so a hostile schema
    /// cannot exhaust the stack of the decoder or of the compiler.
    public static let maxNestingDepth = 256

    /// Parses schema text (the `input_schema` string of the public API).
    public init(parsing text: String) throws(JSONSchemaError) {
        guard JSONSchema.nestingDepth(of: text) <= JSONSchema.maxNestingDepth else {
            throw .nestedTooDeeply
        }
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw .invalidJSON
        }
        try self.init(document)
    }

    /// Compiles an already parsed schema.
    public init(_ document: JSONValue) throws(JSONSchemaError) {
        var compiler = SchemaCompiler(document: document)
        self.root = try compiler.compile()
        self.references = compiler.references
        self.document = document
    }

    /// Every way `value` fails the schema (empty when it is valid), in a stable order.
    ///
    /// Messages quote numbers (`212 is greater than the maximum 150`) but never string
    /// values, and quote nothing at all under a property whose name starts with `$` (a
    /// sensitive input), so they are safe to return in an API error and to log.
    public func validate(_ value: JSONValue) -> [JSONSchemaViolation] {
        var evaluator = SchemaEvaluator(references: references)
        var violations = evaluator.evaluate(root, value, at: "", redact: false)
        if evaluator.exhausted {
            violations.append(
                JSONSchemaViolation(path: "", reason: "the schema is too complex to finish validating this value"))
        }
        return violations
    }

    public func isValid(_ value: JSONValue) -> Bool {
        validate(value).isEmpty
    }

    /// The deepest nesting of `[` and `{` outside strings; a cheap pre-scan of the text.
    static func nestingDepth(of text: String) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in text.utf8 {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
