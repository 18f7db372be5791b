import CyberdeskAPI
import FoundationEssentials
import Testing

/// `APIJSON.decode` (JSONParser + JSONValueDecoder) against Foundation's `JSONDecoder`, which
/// it replaces where records are read: same values, same refusals.
@Suite("JSON parsing")
struct JSONParserTests {
    static let documents: [String] = [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"42"#, #"-17"#, #"9223372036854775807"#,
        #"-9223372036854775808"#, #"9223372036854775808"#, #"1.5"#, #"-2.25e3"#, #"1e2"#, #"1E-2"#, #"0.1"#,
        #"1.0"#, #""""#, #""plain""#, #""esc \" \\ \/ \b \f \n \r \t""#, #""\u00e9\u4e2d\ud83d\ude00""#,
        #""Grüße ✓ 😀""#, #"[]"#, #"{}"#, #"[1, "a", null, true, [2.5, {}], {"k": [false]}]"#,
        #"  {"type": "step", "step_index": 3, "args": {"x": 10.5, "y": 20}, "offset": [0, -1], "ok": true}  "#,
        #"{"a": 1, "a": 2}"#, #"{"nested": {"deeper": {"deepest": [[[]]]}}}"#,
    ]

    static let invalid: [String] = [
        "", " ", "nul", "tru", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\": 1,}", "{a: 1}", "01", "1.", ".5", "-", "1e",
        "\"open", "\"bad \\x escape\"", "\"\\ud83d alone\"", "\"\\ude00 alone\"", "\"tab\there\"", "[1] x", "{\"a\":}",
        "+1", "NaN", "1e400",
    ]

    @Test("parses what JSONDecoder decodes, to the same JSONValue", arguments: documents)
    func sameValues(_ text: String) throws {
        let expected = try APIJSON.decoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try JSONParser.parse(text) == expected)
        #expect(try APIJSON.decode(JSONValue.self, from: text) == expected)
    }

    @Test("refuses what is not JSON, saying where", arguments: invalid)
    func refusals(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(bytes: bytes) }
    }

    @Test("nesting is limited, not a stack overflow")
    func depth() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let failure = #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
        #expect(failure?.description.contains("nested deeper than 512") == true)
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        _ = try JSONParser.parse(fine)
    }

    struct Sample: Codable, Equatable {
        var id: String
        var count: Int
        var ratio: Double
        var small: UInt8
        var single: Float
        var flag: Bool
        var when: Date
        var maybe: String?
        var missing: Int?
        var tags: [String]
        var free: JSONObject?
        var values: [JSONValue]
        var nested: [String: [Int]]
        enum CodingKeys: String, CodingKey {
            case id, count, ratio, small, single, flag, when, maybe, missing, tags, free, values, nested
        }
    }

    @Test("decodes a record as JSONDecoder does: dates, optionals, numbers, free-form fields")
    func records() throws {
        let text = """
            {"id": "r1", "count": 3, "ratio": 2, "small": 200, "single": 1.5, "flag": false,
             "when": "2026-12-07T08:30:19.691234+00:00", "maybe": null, "tags": ["a", "b"],
             "free": {"k": [1, 2.5, "x", {"y": null}]}, "values": [true, 1, 1.25], "nested": {"a": [1, 2]}}
            """
        let expected = try APIJSON.decoder().decode(Sample.self, from: Data(text.utf8))
        let decoded = try APIJSON.decode(Sample.self, from: text)
        #expect(decoded == expected)
        #expect(decoded.maybe == nil && decoded.missing == nil)
        #expect(APIJSON.formatTimestamp(decoded.when) == "2026-12-07T08:30:19.691234+00:00")
    }

    @Test("refuses what JSONDecoder refuses: a missing key, a wrong kind, a fraction for an integer, overflow")
    func recordRefusals() throws {
        let base: JSONObject = [
            "id": "r1", "count": 3, "ratio": 2, "small": 200, "single": 1.5, "flag": false,
            "when": "2026-12-07T08:30:19.691234+00:00", "tags": [], "values": [], "nested": [:],
        ]
        _ = try APIJSON.decode(Sample.self, from: JSONValue.object(base).compactJSON)
        let broken: [(String, JSONValue?)] = [
            ("id", nil), ("count", "3"), ("count", .double(3.5)), ("small", 300), ("flag", 1),
            ("when", "yesterday"), ("tags", "a"), ("nested", ["a": "b"]),
        ]
        for (key, value) in broken {
            var object = base
            object[key] = value
            let text = JSONValue.object(object).compactJSON
            #expect(throws: DecodingError.self, "\(key) = \(value?.compactJSON ?? "missing")") {
                try APIJSON.decode(Sample.self, from: text)
            }
            #expect(throws: DecodingError.self, "JSONDecoder too: \(key)") {
                try APIJSON.decoder().decode(Sample.self, from: Data(text.utf8))
            }
        }
    }

    @Test("the error of a wrong kind names the path")
    func errorPath() throws {
        let text = #"{"id": "r1", "count": 3, "ratio": 2, "small": 1, "single": 1, "flag": true, "when": "2026-12-07", "tags": [1], "values": [], "nested": {}}"#
        do {
            _ = try APIJSON.decode(Sample.self, from: text)
            Issue.record("decoded")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.codingPath.map(\.stringValue) == ["tags", "Index 0"])
        }
    }
}
