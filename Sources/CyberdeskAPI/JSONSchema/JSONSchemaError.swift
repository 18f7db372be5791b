/// Why a JSON Schema (a workflow's `input_schema`) cannot be used; the server answers 400
/// with ``description`` when a workflow is created or updated with one.
public enum JSONSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text does not parse as JSON.
    case invalidJSON
    /// The JSON is neither an object nor a boolean.
    case notASchema(got: String)
    /// A keyword has a value it cannot have. `schemaPath` is a JSON pointer into the schema
    /// document ("" for the root).
    case invalidKeyword(schemaPath: String, keyword: String, problem: String)
    /// `$ref`s that lead back to themselves without descending into the value, so validation
    /// would never end (`{"$ref": "#"}` at the root, or `a` → `b` → `a`).
    case referenceCycle([String])
    /// Arrays and objects nested deeper than ``JSONSchema/maxNestingDepth``.
    case nestedTooDeeply

    public var description: String {
        switch self {
        case .invalidJSON:
            return "the JSON Schema is not valid JSON"
        case .notASchema(let got):
            return "a JSON Schema must be an object or a boolean, got \(got)"
        case .invalidKeyword(let schemaPath, let keyword, let problem):
            let location = schemaPath.isEmpty ? "" : " at \(schemaPath)"
            return "invalid JSON Schema\(location): '\(keyword)' \(problem)"
        case .referenceCycle(let references):
            return "invalid JSON Schema: $ref cycle that never reaches a value to check: "
                + references.joined(separator: " → ")
        case .nestedTooDeeply:
            return "the JSON Schema is nested more than \(JSONSchema.maxNestingDepth) levels deep"
        }
    }
}
