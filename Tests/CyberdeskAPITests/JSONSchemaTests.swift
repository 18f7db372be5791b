import CyberdeskAPI
import Testing

/// A schema, a value, and the exact violation messages expected (empty: valid).
struct SchemaCase: Sendable, CustomTestStringConvertible {
    let schema: String
    let value: JSONValue
    let messages: [String]
    init(_ schema: String, _ value: JSONValue, _ messages: [String] = []) {
        self.schema = schema
        self.value = value
        self.messages = messages
    }
    var testDescription: String { "\(schema) ← \(value.compactJSON)" }
}

@Suite("JSON Schema validation")
struct JSONSchemaTests {
    static let typeCases: [SchemaCase] = [
        SchemaCase(#"{"type": "string"}"#, "x"),
        SchemaCase(#"{"type": "string"}"#, 1, ["/: expected string, got integer"]),
        SchemaCase(#"{"type": "integer"}"#, 3),
        SchemaCase(#"{"type": "integer"}"#, 3.0),
        SchemaCase(#"{"type": "integer"}"#, 3.5, ["/: expected integer, got number"]),
        SchemaCase(#"{"type": "integer"}"#, "3", ["/: expected integer, got string"]),
        SchemaCase(#"{"type": "number"}"#, 3),
        SchemaCase(#"{"type": "number"}"#, 3.5),
        SchemaCase(#"{"type": "number"}"#, true, ["/: expected number, got boolean"]),
        SchemaCase(#"{"type": "boolean"}"#, false),
        SchemaCase(#"{"type": "boolean"}"#, 0, ["/: expected boolean, got integer"]),
        SchemaCase(#"{"type": "null"}"#, nil),
        SchemaCase(#"{"type": "null"}"#, "", ["/: expected null, got string"]),
        SchemaCase(#"{"type": "array"}"#, []),
        SchemaCase(#"{"type": "array"}"#, [:], ["/: expected array, got object"]),
        SchemaCase(#"{"type": "object"}"#, [:]),
        SchemaCase(#"{"type": "object"}"#, [], ["/: expected object, got array"]),
        SchemaCase(#"{"type": ["string", "null"]}"#, nil),
        SchemaCase(#"{"type": ["string", "null"]}"#, "a"),
        SchemaCase(#"{"type": ["string", "null"]}"#, 1, ["/: expected string or null, got integer"]),
        SchemaCase("true", ["anything": [1, 2]]),
        SchemaCase("{}", "anything"),
        SchemaCase("false", 1, ["/: no value is allowed here"]),
    ]

    static let valueCases: [SchemaCase] = [
        SchemaCase(#"{"enum": ["red", "green", 3, null]}"#, "green"),
        SchemaCase(#"{"enum": ["red", "green", 3, null]}"#, 3.0),
        SchemaCase(#"{"enum": ["red", "green", 3, null]}"#, nil),
        SchemaCase(#"{"enum": ["red", "green"]}"#, "blue", [#"/: must be one of "red", "green""#]),
        SchemaCase(#"{"enum": [{"a": [1]}]}"#, ["a": [1.0]]),
        SchemaCase(#"{"enum": [{"a": [1]}]}"#, ["a": [1, 2]], [#"/: must be one of {"a":[1]}"#]),
        SchemaCase(#"{"enum": []}"#, 1, ["/: no value is allowed (empty enum)"]),
        SchemaCase(#"{"const": "x"}"#, "x"),
        SchemaCase(#"{"const": "x"}"#, "y", [#"/: must be "x""#]),
        SchemaCase(#"{"const": null}"#, nil),
        SchemaCase(#"{"const": null}"#, 0, ["/: must be null"]),
        SchemaCase(#"{"const": 2}"#, 2.0),
    ]

    static let numberCases: [SchemaCase] = [
        SchemaCase(#"{"minimum": 0, "maximum": 150}"#, 0),
        SchemaCase(#"{"minimum": 0, "maximum": 150}"#, 150),
        SchemaCase(#"{"minimum": 0, "maximum": 150}"#, 212, ["/: 212 is greater than the maximum 150"]),
        SchemaCase(#"{"minimum": 0, "maximum": 150}"#, -0.5, ["/: -0.5 is less than the minimum 0"]),
        SchemaCase(#"{"exclusiveMinimum": 0}"#, 0.1),
        SchemaCase(#"{"exclusiveMinimum": 0}"#, 0, ["/: 0 is not greater than the exclusive minimum 0"]),
        SchemaCase(#"{"exclusiveMaximum": 10}"#, 9.99),
        SchemaCase(#"{"exclusiveMaximum": 10}"#, 10, ["/: 10 is not less than the exclusive maximum 10"]),
        SchemaCase(
            #"{"minimum": 5, "exclusiveMinimum": true}"#, 5, ["/: 5 is not greater than the exclusive minimum 5"]),
        SchemaCase(#"{"maximum": 5, "exclusiveMaximum": false}"#, 5),
        SchemaCase(
            #"{"minimum": 9007199254740993}"#, .int(9_007_199_254_740_992),
            ["/: 9007199254740992 is less than the minimum 9007199254740993"]),
        SchemaCase(#"{"multipleOf": 5}"#, 35),
        SchemaCase(#"{"multipleOf": 5}"#, 7, ["/: 7 is not a multiple of 5"]),
        SchemaCase(#"{"multipleOf": 0.1}"#, 0.3),
        SchemaCase(#"{"multipleOf": 0.01}"#, 19.99),
        SchemaCase(#"{"multipleOf": 0.01}"#, 19.995, ["/: 19.995 is not a multiple of 0.01"]),
        SchemaCase(#"{"multipleOf": 2}"#, 4.0),
        SchemaCase(#"{"minimum": 10}"#, "5"),
    ]

    static let stringCases: [SchemaCase] = [
        SchemaCase(#"{"minLength": 2, "maxLength": 3}"#, "ab"),
        SchemaCase(#"{"minLength": 2, "maxLength": 3}"#, "a", ["/: must be at least 2 characters long, got 1"]),
        SchemaCase(#"{"minLength": 2, "maxLength": 3}"#, "abcd", ["/: must be at most 3 characters long, got 4"]),
        SchemaCase(#"{"maxLength": 1}"#, "🎉"),
        SchemaCase(#"{"maxLength": 1}"#, "é"),
        SchemaCase(#"{"maxLength": 1}"#, "e\u{301}", ["/: must be at most 1 character long, got 2"]),
        SchemaCase(#"{"minLength": 1}"#, "", ["/: must be at least 1 character long, got 0"]),
        SchemaCase(#"{"minLength": 2}"#, 5),
        SchemaCase(#"{"pattern": "^[0-9]{5}$"}"#, "75001"),
        SchemaCase(#"{"pattern": "^[0-9]{5}$"}"#, "7500", ["/: does not match the pattern ^[0-9]{5}$"]),
        SchemaCase(#"{"pattern": "b+"}"#, "abbbc"),
        SchemaCase(#"{"pattern": "^b"}"#, "abc", ["/: does not match the pattern ^b"]),
        SchemaCase(#"{"pattern": "^\\d+$"}"#, "123"),
        SchemaCase(#"{"pattern": "^\\d+$"}"#, "١٢٣", [#"/: does not match the pattern ^\d+$"#]),
        SchemaCase(#"{"pattern": "^.$"}"#, "日"),
        SchemaCase(#"{"pattern": "^[^@]+@[^@]+\\.[a-z]+$", "format": "email"}"#, "a@b.co"),
        SchemaCase(#"{"pattern": "x"}"#, 1),
        SchemaCase(#"{"format": "date-time", "title": "t", "description": "d", "default": 1, "x-custom": 2}"#, "nope"),
    ]

    static let arrayCases: [SchemaCase] = [
        SchemaCase(#"{"items": {"type": "integer"}}"#, [1, 2, 3]),
        SchemaCase(
            #"{"items": {"type": "integer"}}"#, [1, "b", 3.5],
            ["/1: expected integer, got string", "/2: expected integer, got number"]),
        SchemaCase(#"{"items": [{"type": "string"}, {"type": "integer"}]}"#, ["a", 1, true]),
        SchemaCase(#"{"items": [{"type": "string"}, {"type": "integer"}]}"#, [1], ["/0: expected string, got integer"]),
        SchemaCase(#"{"minItems": 1, "maxItems": 2}"#, [1]),
        SchemaCase(#"{"minItems": 1, "maxItems": 2}"#, [], ["/: must have at least 1 item, got 0"]),
        SchemaCase(#"{"minItems": 1, "maxItems": 2}"#, [1, 2, 3], ["/: must have at most 2 items, got 3"]),
        SchemaCase(#"{"uniqueItems": true}"#, [1, "1", [1]]),
        SchemaCase(#"{"uniqueItems": true}"#, [1, 2, 1.0], ["/: items 0 and 2 are equal; items must be unique"]),
        SchemaCase(#"{"uniqueItems": false}"#, [1, 1]),
        SchemaCase(#"{"items": false}"#, [1], ["/0: no value is allowed here"]),
        SchemaCase(#"{"minItems": 3}"#, "abc"),
    ]

    static let objectCases: [SchemaCase] = [
        SchemaCase(
            #"{"type": "object", "properties": {"patient": {"type": "object", "properties": {"age": {"type": "integer", "maximum": 150}}}}}"#,
            ["patient": ["age": 212]], ["/patient/age: 212 is greater than the maximum 150"]),
        SchemaCase(#"{"required": ["a", "b"]}"#, ["a": 1, "b": nil]),
        SchemaCase(#"{"required": ["a", "b"]}"#, ["a": 1], ["/: missing required property 'b'"]),
        SchemaCase(#"{"required": ["a"]}"#, "not an object"),
        SchemaCase(#"{"properties": {"a": {"type": "string"}}, "additionalProperties": false}"#, ["a": "x"]),
        SchemaCase(
            #"{"properties": {"a": {"type": "string"}}, "additionalProperties": false}"#, ["a": "x", "b": 1, "c": 2],
            ["/: unexpected property 'b'", "/: unexpected property 'c'"]),
        SchemaCase(#"{"additionalProperties": {"type": "integer"}}"#, ["a": 1, "b": 2]),
        SchemaCase(
            #"{"additionalProperties": {"type": "integer"}}"#, ["a": 1, "b": "2"], ["/b: expected integer, got string"]),
        SchemaCase(#"{"additionalProperties": true}"#, ["a": 1]),
        SchemaCase(
            #"{"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}"#, ["x-a": "1"]),
        SchemaCase(
            #"{"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": false}"#, ["x-a": 1, "y": 1],
            ["/x-a: expected string, got integer", "/: unexpected property 'y'"]),
        SchemaCase(#"{"minProperties": 1, "maxProperties": 1}"#, ["a": 1]),
        SchemaCase(#"{"minProperties": 1}"#, [:], ["/: must have at least 1 property, got 0"]),
        SchemaCase(#"{"maxProperties": 1}"#, ["a": 1, "b": 2], ["/: must have at most 1 property, got 2"]),
        SchemaCase(
            #"{"properties": {"a/b": {"type": "string"}, "c~d": {"type": "string"}}}"#, ["a/b": 1, "c~d": 2],
            ["/a~1b: expected string, got integer", "/c~0d: expected string, got integer"]),
        SchemaCase(
            #"{"properties": {"list": {"items": {"properties": {"n": {"minimum": 1}}}}}}"#,
            ["list": [["n": 1], ["n": 0]]], ["/list/1/n: 0 is less than the minimum 1"]),
    ]

    static let combinationCases: [SchemaCase] = [
        SchemaCase(#"{"allOf": [{"type": "integer"}, {"minimum": 3}]}"#, 4),
        SchemaCase(
            #"{"allOf": [{"type": "integer"}, {"minimum": 3}]}"#, 2.5,
            ["/: expected integer, got number", "/: 2.5 is less than the minimum 3"]),
        SchemaCase(#"{"anyOf": [{"type": "string"}, {"type": "integer"}]}"#, 1),
        SchemaCase(
            #"{"anyOf": [{"type": "string"}, {"type": "integer"}]}"#, 1.5,
            ["/: matches none of the anyOf alternatives (closest, alternative 0: /: expected string, got number)"]),
        SchemaCase(#"{"oneOf": [{"type": "integer"}, {"type": "string"}]}"#, "x"),
        SchemaCase(
            #"{"oneOf": [{"type": "integer"}, {"minimum": 0}]}"#, 5,
            ["/: matches 2 of the oneOf alternatives (0, 1); exactly one must match"]),
        SchemaCase(
            #"{"oneOf": [{"type": "integer"}, {"type": "string"}]}"#, nil,
            ["/: matches none of the oneOf alternatives (closest, alternative 0: /: expected integer, got null)"]),
        SchemaCase(#"{"not": {"type": "string"}}"#, 1),
        SchemaCase(#"{"not": {"type": "string"}}"#, "x", ["/: must not match the schema in 'not'"]),
        SchemaCase(
            #"{"if": {"properties": {"kind": {"const": "phone"}}}, "then": {"required": ["phone"]}, "else": {"required": ["email"]}}"#,
            ["kind": "phone", "phone": "1"]),
        SchemaCase(
            #"{"if": {"properties": {"kind": {"const": "phone"}}}, "then": {"required": ["phone"]}, "else": {"required": ["email"]}}"#,
            ["kind": "mail"], ["/: missing required property 'email'"]),
    ]

    static let referenceCases: [SchemaCase] = [
        SchemaCase(
            ##"{"definitions": {"age": {"type": "integer", "minimum": 0}}, "properties": {"age": {"$ref": "#/definitions/age"}}}"##,
            ["age": 3]),
        SchemaCase(
            ##"{"definitions": {"age": {"type": "integer", "minimum": 0}}, "properties": {"age": {"$ref": "#/definitions/age"}}}"##,
            ["age": -1], ["/age: -1 is less than the minimum 0"]),
        SchemaCase(
            ##"{"$defs": {"name": {"type": "string", "minLength": 1}}, "items": {"$ref": "#/$defs/name"}}"##,
            ["a", ""],
            ["/1: must be at least 1 character long, got 0"]),
        SchemaCase(
            ##"{"$defs": {"a~b/c": {"type": "string"}}, "$ref": "#/$defs/a~0b~1c"}"##, 1,
            ["/: expected string, got integer"]),
        SchemaCase(##"{"$defs": {"n": {"type": "null"}}, "$ref": "#/%24defs/n"}"##, nil),
        // A recursive tree: references that descend into the value are fine.
        SchemaCase(
            ##"{"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"}"##,
            ["value": 1, "children": [["value": 2, "children": [["value": "x"]]]]],
            ["/children/0/children/0/value: expected integer, got string"]),
        SchemaCase(
            ##"{"properties": {"next": {"$ref": "#"}}, "type": "object"}"##, ["next": ["next": 1]],
            ["/next/next: expected object, got integer"]),
        // Siblings of $ref apply too.
        SchemaCase(
            ##"{"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 1}"##, "ab",
            ["/: must be at most 1 character long, got 2"]),
    ]

    @Test(
        "validates",
        arguments: typeCases + valueCases + numberCases + stringCases + arrayCases + objectCases + combinationCases
            + referenceCases)
    func validates(_ testCase: SchemaCase) throws {
        let schema = try JSONSchema(parsing: testCase.schema)
        let violations = schema.validate(testCase.value)
        #expect(violations.map(\.message) == testCase.messages)
        #expect(schema.isValid(testCase.value) == testCase.messages.isEmpty)
    }

    @Test("violations carry the path and the reason separately")
    func violationParts() throws {
        let schema = try JSONSchema(parsing: #"{"properties": {"patient": {"properties": {"age": {"maximum": 150}}}}}"#)
        let violation = try #require(schema.validate(["patient": ["age": 212]]).first)
        #expect(violation.path == "/patient/age")
        #expect(violation.reason == "212 is greater than the maximum 150")
        #expect(violation.description == "/patient/age: 212 is greater than the maximum 150")
    }

    @Test("messages never quote string values, nor any value under a sensitive $name property")
    func redaction() throws {
        let schema = try JSONSchema(
            parsing: #"""
                {"properties": {
                    "code": {"type": "string", "pattern": "^[0-9]+$", "enum": ["1", "2"], "maxLength": 2},
                    "$pin": {"type": "integer", "maximum": 9999, "multipleOf": 2},
                    "$card": {"type": "object", "properties": {"cvv": {"minimum": 100}}}
                }}
                """#)
        let violations = schema.validate(["code": "hunter2", "$pin": 123_457, "$card": ["cvv": 42]])
        #expect(
            violations.map(\.message) == [
                "/$card/cvv: the value is less than the minimum 100",
                "/$pin: the value is greater than the maximum 9999",
                "/$pin: the value is not a multiple of 2",
                #"/code: must be one of "1", "2""#,
                "/code: must be at most 2 characters long, got 7",
                "/code: does not match the pattern ^[0-9]+$",
            ])
        for violation in violations {
            #expect(!violation.message.contains("hunter2"))
            #expect(!violation.message.contains("123457"))
            #expect(!violation.message.contains("42"))
        }
    }

    @Test("the schema document is kept")
    func document() throws {
        #expect(try JSONSchema(parsing: #"{"type": "string"}"#).document == ["type": "string"])
        #expect(try JSONSchema(["type": "integer"]).validate(1).isEmpty)
    }
}

@Suite("JSON Schema loading")
struct JSONSchemaLoadingTests {
    static let invalid: [(String, String)] = [
        ("", "the JSON Schema is not valid JSON"),
        ("{", "the JSON Schema is not valid JSON"),
        ("{'type': 'string'}", "the JSON Schema is not valid JSON"),
        (#"{"type": string}"#, "the JSON Schema is not valid JSON"),
        ("[]", "a JSON Schema must be an object or a boolean, got array"),
        ("\"string\"", "a JSON Schema must be an object or a boolean, got string"),
        ("3", "a JSON Schema must be an object or a boolean, got integer"),
        ("null", "a JSON Schema must be an object or a boolean, got null"),
        (
            #"{"type": "text"}"#,
            "invalid JSON Schema: 'type' has unknown type 'text' (known: array, boolean, integer, null, number, object, string)"
        ),
        (#"{"type": 3}"#, "invalid JSON Schema: 'type' must be a type name or a non-empty array of type names"),
        (#"{"type": []}"#, "invalid JSON Schema: 'type' must be a type name or a non-empty array of type names"),
        (
            #"{"properties": {"age": {"minimum": "0"}}}"#,
            "invalid JSON Schema at /properties/age: 'minimum' must be a number, got string"
        ),
        (
            #"{"properties": {"age": 5}}"#,
            "invalid JSON Schema: 'properties' entry 'age' must be a schema (an object or a boolean), got integer"
        ),
        (
            #"{"properties": []}"#,
            "invalid JSON Schema: 'properties' must be an object mapping property names to schemas"
        ),
        (#"{"required": "name"}"#, "invalid JSON Schema: 'required' must be an array of property names"),
        (#"{"required": [1]}"#, "invalid JSON Schema: 'required' must be an array of property names"),
        (#"{"enum": "a"}"#, "invalid JSON Schema: 'enum' must be an array of allowed values"),
        (#"{"minLength": -1}"#, "invalid JSON Schema: 'minLength' must be a whole number, 0 or more"),
        (#"{"maxItems": 1.5}"#, "invalid JSON Schema: 'maxItems' must be a whole number, 0 or more"),
        (#"{"multipleOf": 0}"#, "invalid JSON Schema: 'multipleOf' must be greater than 0"),
        (#"{"exclusiveMaximum": "1"}"#, "invalid JSON Schema: 'exclusiveMaximum' must be a number, got string"),
        (#"{"pattern": 5}"#, "invalid JSON Schema: 'pattern' must be a string"),
        (#"{"uniqueItems": 1}"#, "invalid JSON Schema: 'uniqueItems' must be true or false"),
        (#"{"anyOf": []}"#, "invalid JSON Schema: 'anyOf' must be a non-empty array of schemas"),
        (#"{"allOf": {}}"#, "invalid JSON Schema: 'allOf' must be a non-empty array of schemas"),
        (
            #"{"oneOf": [1]}"#,
            "invalid JSON Schema: 'oneOf' entry '0' must be a schema (an object or a boolean), got integer"
        ),
        (#"{"not": "x"}"#, "invalid JSON Schema: 'not' value must be a schema (an object or a boolean), got string"),
        (
            #"{"items": {"items": {"type": "bogus"}}}"#,
            "invalid JSON Schema at /items/items: 'type' has unknown type 'bogus' (known: array, boolean, integer, null, number, object, string)"
        ),
        (
            #"{"definitions": {"a": {"minimum": true}}}"#,
            "invalid JSON Schema at /definitions/a: 'minimum' must be a number, got boolean"
        ),
        (
            ##"{"$ref": "#/definitions/missing"}"##,
            ##"invalid JSON Schema: '$ref' "#/definitions/missing" points to nothing in the schema"##
        ),
        (
            #"{"$ref": "https://example.com/schema.json"}"#,
            ##"invalid JSON Schema: '$ref' "https://example.com/schema.json" is not supported: only references inside the schema ("#/definitions/…", "#/$defs/…") are"##
        ),
        (#"{"$ref": 1}"#, "invalid JSON Schema: '$ref' must be a string"),
        (##"{"$ref": "#"}"##, "invalid JSON Schema: $ref cycle that never reaches a value to check: # → #"),
        (
            ##"{"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/a"}]}}, "$ref": "#/definitions/a"}"##,
            "invalid JSON Schema: $ref cycle that never reaches a value to check: #/definitions/a → #/definitions/b → #/definitions/a"
        ),
        (
            ##"{"definitions": {"a": {"not": {"$ref": "#/definitions/a"}}}, "properties": {"x": {"$ref": "#/definitions/a"}}}"##,
            "invalid JSON Schema: $ref cycle that never reaches a value to check: #/definitions/a → #/definitions/a"
        ),
    ]

    @Test("invalid schemas are rejected with a clear message", arguments: invalid)
    func rejects(text: String, message: String) {
        let error = #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: text) }
        #expect(error?.description == message)
    }

    @Test("an invalid pattern is rejected, naming it")
    func invalidPattern() {
        let error = #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: #"{"pattern": "(unclosed"}"#) }
        #expect(
            error?.description.hasPrefix(
                #"invalid JSON Schema: 'pattern' "(unclosed" is not a valid regular expression"#) == true)
        let inProperties = #expect(throws: JSONSchemaError.self) {
            try JSONSchema(parsing: #"{"patternProperties": {"[": true}}"#)
        }
        #expect(inProperties?.description.hasPrefix(#"invalid JSON Schema: 'patternProperties' "[" is not"#) == true)
    }

    @Test("deeply nested documents are refused before decoding")
    func nesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: JSONSchemaError.self) { try JSONSchema(parsing: deep) }
        #expect(error == .nestedTooDeeply)
        let deepSchema = String(repeating: #"{"not": "#, count: 300) + "true" + String(repeating: "}", count: 300)
        #expect(throws: JSONSchemaError.nestedTooDeeply) { try JSONSchema(parsing: deepSchema) }
        // Brackets inside strings do not count.
        let quoted = #"{"description": ""# + String(repeating: "[{", count: 1_000) + #""}"#
        #expect(throws: Never.self) { try JSONSchema(parsing: quoted) }
    }

    @Test("exponential fan-out through shared definitions stops at the work budget")
    func workBudget() throws {
        // d0 → two uses of d1 → … → d39: 2^40 evaluations without a budget.
        var definitions: [String] = []
        for level in 0..<40 {
            definitions.append(
                ##""d\##(level)": {"anyOf": [{"$ref": "#/$defs/d\##(level + 1)"}, {"$ref": "#/$defs/d\##(level + 1)"}]}"##
            )
        }
        definitions.append(#""d40": {"type": "string"}"#)
        let schema = try JSONSchema(
            parsing: #"{"$defs": {"# + definitions.joined(separator: ", ") + ##"}, "$ref": "#/$defs/d0"}"##)
        let violations = schema.validate(1)
        #expect(violations.last?.message == "/: the schema is too complex to finish validating this value")
    }

    @Test("deep recursion through $ref is cut off with a violation")
    func referenceDepth() throws {
        let schema = try JSONSchema(parsing: ##"{"items": {"$ref": "#"}}"##)
        var value: JSONValue = 1
        for _ in 0..<200 { value = [value] }
        let violations = schema.validate(value)
        #expect(violations.count == 1)
        #expect(violations.first?.reason == "nested too deeply to validate (more than 128 levels of $ref)")
        var shallow: JSONValue = 1
        for _ in 0..<50 { shallow = [shallow] }
        #expect(schema.validate(shallow).isEmpty)
    }
}
