/// Checks one value against compiled schemas, collecting every violation.
///
/// One evaluator per ``JSONSchema/validate(_:)`` call: it caches compiled regular expressions
/// (Swift's `Regex` is not `Sendable`, so the schema itself keeps only pattern text) and
/// carries the guards against pathological schemas. Reference cycles that do not descend
/// into the value are rejected when the schema is loaded; what remains is bounded here by a
/// `$ref` nesting limit and an overall work budget (a chain of `anyOf`s over shared
/// definitions can otherwise take exponential time).
struct SchemaEvaluator {
    static let maxReferenceDepth = 128
    static let workBudget = 200_000

    let references: [String: SchemaNode]
    private var regexes: [String: Regex<AnyRegexOutput>] = [:]
    private var remainingWork = SchemaEvaluator.workBudget
    private var referenceDepth = 0
    private(set) var exhausted = false

    init(references: [String: SchemaNode]) {
        self.references = references
    }

    /// - Parameter redact: true under a property named `$…` (a sensitive input, per the public
    ///   API), where messages must not repeat the value.
    mutating func evaluate(
        _ node: SchemaNode, _ value: JSONValue, at path: String, redact: Bool
    ) -> [JSONSchemaViolation] {
        remainingWork -= 1
        guard remainingWork >= 0 else {
            exhausted = true
            return []
        }
        switch node {
        case .boolean(true):
            return []
        case .boolean(false):
            return [JSONSchemaViolation(path: path, reason: "no value is allowed here")]
        case .keywords(let keywords):
            return evaluate(keywords, value, at: path, redact: redact)
        }
    }

    private mutating func evaluate(
        _ keywords: SchemaKeywords, _ value: JSONValue, at path: String, redact: Bool
    ) -> [JSONSchemaViolation] {
        var violations: [JSONSchemaViolation] = []
        func fail(_ reason: String) {
            violations.append(JSONSchemaViolation(path: path, reason: reason))
        }

        if let reference = keywords.ref, let target = references[reference] {
            if referenceDepth >= SchemaEvaluator.maxReferenceDepth {
                fail("nested too deeply to validate (more than \(SchemaEvaluator.maxReferenceDepth) levels of $ref)")
            } else {
                referenceDepth += 1
                violations += evaluate(target, value, at: path, redact: redact)
                referenceDepth -= 1
            }
        }

        if let types = keywords.types, !types.contains(where: { SchemaEvaluator.value(value, hasType: $0) }) {
            fail("expected \(types.joined(separator: " or ")), got \(value.typeName)")
        }
        if let allowed = keywords.enumValues, !allowed.contains(where: { $0.jsonEquals(value) }) {
            if allowed.isEmpty {
                fail("no value is allowed (empty enum)")
            } else {
                let shown = allowed.prefix(10).map { SchemaEvaluator.show($0) }.joined(separator: ", ")
                fail("must be one of \(shown)" + (allowed.count > 10 ? ", …" : ""))
            }
        }
        if let constant = keywords.constValue.first, !constant.jsonEquals(value) {
            fail("must be \(SchemaEvaluator.show(constant))")
        }

        switch value {
        case .int, .double:
            checkNumber(keywords, value, redact: redact, fail: fail)
        case .string(let string):
            checkString(keywords, string, fail: fail)
        case .array(let elements):
            violations += checkArray(keywords, elements, at: path, redact: redact)
        case .object(let members):
            violations += checkObject(keywords, members, at: path, redact: redact)
        case .null, .bool:
            break
        }

        for schema in keywords.allOf {
            violations += evaluate(schema, value, at: path, redact: redact)
        }
        if let alternatives = keywords.anyOf {
            let results = alternatives.map { evaluate($0, value, at: path, redact: redact) }
            if !results.contains(where: \.isEmpty) {
                fail("matches none of the anyOf alternatives" + SchemaEvaluator.closest(results))
            }
        }
        if let alternatives = keywords.oneOf {
            let results = alternatives.map { evaluate($0, value, at: path, redact: redact) }
            let matching = results.indices.filter { results[$0].isEmpty }
            if matching.isEmpty {
                fail("matches none of the oneOf alternatives" + SchemaEvaluator.closest(results))
            } else if matching.count > 1 {
                let list = matching.map(String.init).joined(separator: ", ")
                fail("matches \(matching.count) of the oneOf alternatives (\(list)); exactly one must match")
            }
        }
        if let negated = keywords.not, evaluate(negated, value, at: path, redact: redact).isEmpty {
            fail("must not match the schema in 'not'")
        }
        if let condition = keywords.ifSchema {
            let branch =
                evaluate(condition, value, at: path, redact: redact).isEmpty ? keywords.thenSchema : keywords.elseSchema
            if let branch { violations += evaluate(branch, value, at: path, redact: redact) }
        }
        return violations
    }

    // MARK: Per type

    private func checkNumber(_ keywords: SchemaKeywords, _ value: JSONValue, redact: Bool, fail: (String) -> Void) {
        let shown = redact ? "the value" : value.templateText
        for bound in keywords.minimums {
            let order = value.numericOrder(bound.value)
            if bound.exclusive, order <= 0 {
                fail("\(shown) is not greater than the exclusive minimum \(bound.value.templateText)")
            } else if !bound.exclusive, order < 0 {
                fail("\(shown) is less than the minimum \(bound.value.templateText)")
            }
        }
        for bound in keywords.maximums {
            let order = value.numericOrder(bound.value)
            if bound.exclusive, order >= 0 {
                fail("\(shown) is not less than the exclusive maximum \(bound.value.templateText)")
            } else if !bound.exclusive, order > 0 {
                fail("\(shown) is greater than the maximum \(bound.value.templateText)")
            }
        }
        if let divisor = keywords.multipleOf, !value.isMultiple(of: divisor) {
            fail("\(shown) is not a multiple of \(divisor.templateText)")
        }
    }

    /// Lengths count Unicode scalars (code points), as JSON Schema defines them: "é" typed as
    /// one precomposed scalar is 1, as "e" plus a combining accent 2; an emoji is 1.
    private mutating func checkString(_ keywords: SchemaKeywords, _ string: String, fail: (String) -> Void) {
        if keywords.minLength != nil || keywords.maxLength != nil {
            let length = string.unicodeScalars.count
            if let minimum = keywords.minLength, length < minimum {
                fail("must be at least \(minimum) \(minimum == 1 ? "character" : "characters") long, got \(length)")
            }
            if let maximum = keywords.maxLength, length > maximum {
                fail("must be at most \(maximum) \(maximum == 1 ? "character" : "characters") long, got \(length)")
            }
        }
        if let pattern = keywords.pattern, !matches(string, pattern) {
            fail("does not match the pattern \(pattern)")
        }
    }

    private mutating func checkArray(
        _ keywords: SchemaKeywords, _ elements: [JSONValue], at path: String, redact: Bool
    ) -> [JSONSchemaViolation] {
        var violations: [JSONSchemaViolation] = []
        func fail(_ reason: String) {
            violations.append(JSONSchemaViolation(path: path, reason: reason))
        }
        if let minimum = keywords.minItems, elements.count < minimum {
            fail("must have at least \(minimum) \(minimum == 1 ? "item" : "items"), got \(elements.count)")
        }
        if let maximum = keywords.maxItems, elements.count > maximum {
            fail("must have at most \(maximum) \(maximum == 1 ? "item" : "items"), got \(elements.count)")
        }
        if keywords.uniqueItems {
            duplicates: for second in elements.indices {
                for first in 0..<second where elements[first].jsonEquals(elements[second]) {
                    fail("items \(first) and \(second) are equal; items must be unique")
                    break duplicates
                }
            }
        }
        for (index, element) in elements.enumerated() {
            let schema: SchemaNode?
            if let tuple = keywords.tupleItems {
                schema = index < tuple.count ? tuple[index] : nil
            } else {
                schema = keywords.items
            }
            if let schema {
                violations += evaluate(schema, element, at: path + "/" + String(index), redact: redact)
            }
        }
        return violations
    }

    private mutating func checkObject(
        _ keywords: SchemaKeywords, _ members: JSONObject, at path: String, redact: Bool
    ) -> [JSONSchemaViolation] {
        var violations: [JSONSchemaViolation] = []
        func fail(_ reason: String) {
            violations.append(JSONSchemaViolation(path: path, reason: reason))
        }
        for name in keywords.required where members[name] == nil {
            fail("missing required property '\(name)'")
        }
        if let minimum = keywords.minProperties, members.count < minimum {
            fail("must have at least \(minimum) \(minimum == 1 ? "property" : "properties"), got \(members.count)")
        }
        if let maximum = keywords.maxProperties, members.count > maximum {
            fail("must have at most \(maximum) \(maximum == 1 ? "property" : "properties"), got \(members.count)")
        }
        for name in members.keys.sorted() {
            let member = members[name]!
            let memberPath = path + "/" + SchemaEvaluator.escape(name)
            let memberRedact = redact || name.hasPrefix("$")
            var matched = false
            if let schema = keywords.properties[name] {
                matched = true
                violations += evaluate(schema, member, at: memberPath, redact: memberRedact)
            }
            for (pattern, schema) in keywords.patternProperties where matches(name, pattern) {
                matched = true
                violations += evaluate(schema, member, at: memberPath, redact: memberRedact)
            }
            guard !matched, let additional = keywords.additionalProperties else { continue }
            if case .boolean(false) = additional {
                fail("unexpected property '\(name)'")
            } else {
                violations += evaluate(additional, member, at: memberPath, redact: memberRedact)
            }
        }
        return violations
    }

    // MARK: Helpers

    /// JSON Schema patterns are unanchored searches. Matching is per Unicode scalar, like the
    /// lengths, and `\d`/`\w` are ASCII-only as in ECMA-262 (Swift's defaults are Unicode).
    private mutating func matches(_ string: String, _ pattern: String) -> Bool {
        if regexes[pattern] == nil {
            // Patterns were compiled once when the schema was loaded, so this cannot fail.
            guard let regex = try? Regex(pattern) else { return true }
            regexes[pattern] = regex.asciiOnlyDigits().asciiOnlyWordCharacters().matchingSemantics(.unicodeScalar)
        }
        return string.contains(regexes[pattern]!)
    }

    static func value(_ value: JSONValue, hasType type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object):
            return true
        case ("number", .int), ("number", .double), ("integer", .int):
            return true
        case ("integer", .double(let number)):
            return number.isFinite && number.rounded() == number
        default:
            return false
        }
    }

    /// A schema value (enum member, const) for a message: JSON, shortened.
    static func show(_ value: JSONValue) -> String {
        let json = value.compactJSON
        return json.count > 60 ? String(json.prefix(60)) + "…" : json
    }

    /// The violations of the alternative that came closest, so the user sees what to fix.
    private static func closest(_ results: [[JSONSchemaViolation]]) -> String {
        guard let best = results.indices.min(by: { results[$0].count < results[$1].count }), !results[best].isEmpty
        else { return "" }
        let shown = results[best].prefix(3).map(\.message).joined(separator: "; ")
        return " (closest, alternative \(best): \(shown)\(results[best].count > 3 ? "; …" : ""))"
    }

    static func escape(_ key: String) -> String {
        key.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}
