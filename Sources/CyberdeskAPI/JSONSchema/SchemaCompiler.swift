/// Turns a schema document into ``SchemaNode``s, checking every supported keyword's value,
/// resolving `$ref`s and rejecting reference cycles, so that a bad schema is refused when the
/// workflow is saved rather than when the first run is created.
struct SchemaCompiler {
    static let typeNames: Set<String> = ["null", "boolean", "object", "array", "number", "string", "integer"]

    let document: JSONValue
    /// Compiled `$ref` targets, keyed by the `$ref` text.
    private(set) var references: [String: SchemaNode] = [:]
    private var pending: [String] = []

    init(document: JSONValue) {
        self.document = document
    }

    /// Compiles the whole document: the root, every `definitions`/`$defs` entry (even unused
    /// ones, so their mistakes show) and every reference target.
    mutating func compile() throws(JSONSchemaError) -> SchemaNode {
        switch document {
        case .bool, .object: break
        default: throw .notASchema(got: document.typeName)
        }
        let root = try schema(document, at: "")
        while let reference = pending.popLast() {
            guard references[reference] == nil, let target = SchemaCompiler.resolve(reference, in: document) else {
                continue
            }
            references[reference] = try schema(target, at: String(reference.dropFirst()))
        }
        try checkCycles()
        return root
    }

    // MARK: Schemas and keywords

    private mutating func schema(_ value: JSONValue, at path: String) throws(JSONSchemaError) -> SchemaNode {
        switch value {
        case .bool(let bool):
            return .boolean(bool)
        case .object(let object):
            return .keywords(try keywords(object, at: path))
        default:
            // Callers check the shape first and name the keyword; this is the last resort.
            throw .notASchema(got: value.typeName)
        }
    }

    /// A value that must be a schema, with the error naming the keyword it sits under.
    private mutating func subschema(
        _ value: JSONValue, keyword: String, at path: String, member: String? = nil
    ) throws(JSONSchemaError) -> SchemaNode {
        let childPath = path + "/" + escape(keyword) + (member.map { "/" + escape($0) } ?? "")
        switch value {
        case .bool, .object:
            return try schema(value, at: childPath)
        default:
            let what = member.map { "entry '\($0)'" } ?? "value"
            throw .invalidKeyword(
                schemaPath: path, keyword: keyword,
                problem: "\(what) must be a schema (an object or a boolean), got \(value.typeName)")
        }
    }

    private mutating func keywords(_ object: JSONObject, at path: String) throws(JSONSchemaError) -> SchemaKeywords {
        var result = SchemaKeywords()
        func invalid(_ keyword: String, _ problem: String) -> JSONSchemaError {
            .invalidKeyword(schemaPath: path, keyword: keyword, problem: problem)
        }

        if let value = object["type"] {
            let names: [String]
            switch value {
            case .string(let name): names = [name]
            case .array(let elements) where !elements.isEmpty && elements.allSatisfy({ $0.stringValue != nil }):
                names = elements.compactMap(\.stringValue)
            default: throw invalid("type", "must be a type name or a non-empty array of type names")
            }
            if let unknown = names.first(where: { !SchemaCompiler.typeNames.contains($0) }) {
                let known = SchemaCompiler.typeNames.sorted().joined(separator: ", ")
                throw invalid("type", "has unknown type '\(unknown)' (known: \(known))")
            }
            result.types = names
        }
        if let value = object["enum"] {
            guard case .array(let values) = value else { throw invalid("enum", "must be an array of allowed values") }
            result.enumValues = values
        }
        if let value = object["const"] { result.constValue = [value] }

        // Numbers.
        for keyword in ["minimum", "maximum", "multipleOf"] {
            if let value = object[keyword], value.doubleValue == nil {
                throw invalid(keyword, "must be a number, got \(value.typeName)")
            }
        }
        if let value = object["multipleOf"] {
            guard let number = value.doubleValue, number > 0, number.isFinite else {
                throw invalid("multipleOf", "must be greater than 0")
            }
            result.multipleOf = value
        }
        for (keyword, exclusiveKeyword) in [("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")] {
            var bounds: [SchemaKeywords.Bound] = []
            var draft4Exclusive = false
            switch object[exclusiveKeyword] {
            case nil: break
            case .bool(let exclusive)?: draft4Exclusive = exclusive
            case let number? where number.doubleValue != nil: bounds.append(.init(value: number, exclusive: true))
            case let other?: throw invalid(exclusiveKeyword, "must be a number, got \(other.typeName)")
            }
            if let bound = object[keyword] { bounds.append(.init(value: bound, exclusive: draft4Exclusive)) }
            if keyword == "minimum" { result.minimums = bounds } else { result.maximums = bounds }
        }

        // Strings.
        result.minLength = try count(object, "minLength", at: path)
        result.maxLength = try count(object, "maxLength", at: path)
        if let value = object["pattern"] {
            guard case .string(let pattern) = value else { throw invalid("pattern", "must be a string") }
            try checkPattern(pattern, keyword: "pattern", at: path)
            result.pattern = pattern
        }

        // Arrays.
        switch object["items"] {
        case nil: break
        case .array(let schemas)?:
            var tuple: [SchemaNode] = []
            for (index, element) in schemas.enumerated() {
                tuple.append(try subschema(element, keyword: "items", at: path, member: String(index)))
            }
            result.tupleItems = tuple
        case let value?:
            result.items = try subschema(value, keyword: "items", at: path)
        }
        result.minItems = try count(object, "minItems", at: path)
        result.maxItems = try count(object, "maxItems", at: path)
        if let value = object["uniqueItems"] {
            guard case .bool(let unique) = value else { throw invalid("uniqueItems", "must be true or false") }
            result.uniqueItems = unique
        }

        // Objects.
        if let value = object["properties"] {
            guard case .object(let members) = value else {
                throw invalid("properties", "must be an object mapping property names to schemas")
            }
            for name in members.keys.sorted() {
                result.properties[name] = try subschema(members[name]!, keyword: "properties", at: path, member: name)
            }
        }
        if let value = object["patternProperties"] {
            guard case .object(let members) = value else {
                throw invalid("patternProperties", "must be an object mapping patterns to schemas")
            }
            for pattern in members.keys.sorted() {
                try checkPattern(pattern, keyword: "patternProperties", at: path)
                let schema = try subschema(members[pattern]!, keyword: "patternProperties", at: path, member: pattern)
                result.patternProperties.append((pattern, schema))
            }
        }
        if let value = object["additionalProperties"] {
            result.additionalProperties = try subschema(value, keyword: "additionalProperties", at: path)
        }
        if let value = object["required"] {
            guard case .array(let names) = value, names.allSatisfy({ $0.stringValue != nil }) else {
                throw invalid("required", "must be an array of property names")
            }
            result.required = names.compactMap(\.stringValue)
        }
        result.minProperties = try count(object, "minProperties", at: path)
        result.maxProperties = try count(object, "maxProperties", at: path)

        // Combinations.
        for keyword in ["allOf", "anyOf", "oneOf"] {
            guard let value = object[keyword] else { continue }
            guard case .array(let elements) = value, !elements.isEmpty else {
                throw invalid(keyword, "must be a non-empty array of schemas")
            }
            var schemas: [SchemaNode] = []
            for (index, element) in elements.enumerated() {
                schemas.append(try subschema(element, keyword: keyword, at: path, member: String(index)))
            }
            switch keyword {
            case "allOf": result.allOf = schemas
            case "anyOf": result.anyOf = schemas
            default: result.oneOf = schemas
            }
        }
        if let value = object["not"] { result.not = try subschema(value, keyword: "not", at: path) }
        if let value = object["if"] { result.ifSchema = try subschema(value, keyword: "if", at: path) }
        if let value = object["then"] { result.thenSchema = try subschema(value, keyword: "then", at: path) }
        if let value = object["else"] { result.elseSchema = try subschema(value, keyword: "else", at: path) }

        // Definitions are compiled for their mistakes; references reach them through the table.
        for keyword in ["definitions", "$defs"] {
            guard let value = object[keyword] else { continue }
            guard case .object(let members) = value else {
                throw invalid(keyword, "must be an object mapping names to schemas")
            }
            for name in members.keys.sorted() {
                _ = try subschema(members[name]!, keyword: keyword, at: path, member: name)
            }
        }

        if let value = object["$ref"] {
            guard case .string(let reference) = value else { throw invalid("$ref", "must be a string") }
            guard reference.hasPrefix("#") else {
                throw invalid(
                    "$ref",
                    "\"\(reference)\" is not supported: only references inside the schema "
                        + "(\"#/definitions/…\", \"#/$defs/…\") are")
            }
            guard SchemaCompiler.resolve(reference, in: document) != nil else {
                throw invalid("$ref", "\"\(reference)\" points to nothing in the schema")
            }
            result.ref = reference
            pending.append(reference)
        }
        return result
    }

    private func count(_ object: JSONObject, _ keyword: String, at path: String) throws(JSONSchemaError) -> Int? {
        guard let value = object[keyword] else { return nil }
        guard let integer = value.intValue, integer >= 0, let count = Int(exactly: integer) else {
            throw .invalidKeyword(schemaPath: path, keyword: keyword, problem: "must be a whole number, 0 or more")
        }
        return count
    }

    private func checkPattern(_ pattern: String, keyword: String, at path: String) throws(JSONSchemaError) {
        do {
            _ = try Regex(pattern)
        } catch {
            throw .invalidKeyword(
                schemaPath: path, keyword: keyword,
                problem: "\"\(pattern)\" is not a valid regular expression: \(error)")
        }
    }

    // MARK: References

    /// The value a local reference (`#`, `#/definitions/a`, any JSON pointer) points to.
    static func resolve(_ reference: String, in document: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        let pointer = reference.dropFirst()
        if pointer.isEmpty { return document }
        guard pointer.hasPrefix("/") else { return nil }
        var current = document
        for rawToken in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = unescape(percentDecode(String(rawToken)))
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let index = Int(token), index >= 0, index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    /// Rejects reference loops that do not descend into the value (through `$ref`, `allOf`,
    /// `anyOf`, `oneOf`, `not`, `if`/`then`/`else`): validation would recurse forever.
    private func checkCycles() throws(JSONSchemaError) {
        var edges: [String: [String]] = [:]
        for (reference, node) in references { edges[reference] = SchemaCompiler.sameValueReferences(node) }
        var finished: Set<String> = []
        var stack: [String] = []

        func visit(_ reference: String) -> [String]? {
            if let start = stack.firstIndex(of: reference) { return Array(stack[start...]) + [reference] }
            guard !finished.contains(reference) else { return nil }
            stack.append(reference)
            for next in edges[reference] ?? [] {
                if let cycle = visit(next) { return cycle }
            }
            stack.removeLast()
            finished.insert(reference)
            return nil
        }

        for reference in edges.keys.sorted() {
            if let cycle = visit(reference) { throw .referenceCycle(cycle) }
        }
    }

    static func sameValueReferences(_ node: SchemaNode) -> [String] {
        guard case .keywords(let keywords) = node else { return [] }
        var children = keywords.allOf + (keywords.anyOf ?? []) + (keywords.oneOf ?? [])
        children += [keywords.not, keywords.ifSchema, keywords.thenSchema, keywords.elseSchema].compactMap { $0 }
        return (keywords.ref.map { [$0] } ?? []) + children.flatMap(sameValueReferences)
    }

    // MARK: JSON pointer text

    private func escape(_ token: String) -> String {
        token.replacing("~", with: "~0").replacing("/", with: "~1")
    }

    private static func unescape(_ token: String) -> String {
        token.replacing("~1", with: "/").replacing("~0", with: "~")
    }

    /// `%24defs` → `$defs`: references are URI fragments, and some generators encode them.
    private static func percentDecode(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
