import CyberdeskAPI
import Testing

/// A template, the values it is rendered with and the text it must give.
struct RenderCase: Sendable, CustomTestStringConvertible {
    let source: String
    let expected: String
    var inputs: JSONObject = TemplateFixtures.inputs
    var runtime: JSONObject = TemplateFixtures.runtime
    var unresolved: [String] = []

    var testDescription: String { source.debugDescription }
}

/// Values shared by the template tests.
enum TemplateFixtures {
    static let inputs: JSONObject = [
        "name": "Ada",
        "age": 36,
        "ratio": 0.5,
        "whole": 3.0,
        "flag": true,
        "nothing": nil,
        "patient": ["name": "Bob", "address": ["city": "Paris"], "ids": [10, 20, "x"]],
        "list": ["a", "b"],
        "dotted.key": "literal key",
        "braces": "{name} {$password} {{otp}}",
        "unicode": "日本語 🎉",
        "nom_élève": "Zoé",
        "with-dash": "dash",
        "password": "hunter2",
        "$password": "hunter2",
    ]
    static let runtime: JSONObject = [
        "otp": "123456",
        "clip": ["rows": [["id": 7]]],
        "count": 2,
    ]
}

@Suite("Templates")
struct TemplateTests {
    static let renderCases: [RenderCase] = [
        // Plain text is untouched.
        RenderCase(source: "", expected: ""),
        RenderCase(source: "hello world", expected: "hello world"),
        RenderCase(source: "back\\slash \\n C:\\Users", expected: "back\\slash \\n C:\\Users"),
        // Inputs.
        RenderCase(source: "{name}", expected: "Ada"),
        RenderCase(source: "Hi {name}, you are {age}.", expected: "Hi Ada, you are 36."),
        RenderCase(source: "{ratio} {whole} {flag} {nothing}", expected: "0.5 3 true null"),
        RenderCase(source: "{patient.name} from {patient.address.city}", expected: "Bob from Paris"),
        RenderCase(source: "{patient.ids.1} {patient.ids.2}", expected: "20 x"),
        RenderCase(source: "{patient.address}", expected: #"{"city":"Paris"}"#),
        RenderCase(source: "{list}", expected: #"["a","b"]"#),
        RenderCase(source: "{dotted.key}", expected: "literal key"),
        RenderCase(source: "{unicode}|{nom_élève}|{with-dash}", expected: "日本語 🎉|Zoé|dash"),
        RenderCase(source: "{name}{name}{age}", expected: "AdaAda36"),
        // Substituted values are not parsed again.
        RenderCase(source: "[{braces}]", expected: "[{name} {$password} {{otp}}]"),
        // Unknown names and paths stay as typed.
        RenderCase(source: "{unknown}", expected: "{unknown}"),
        RenderCase(
            source: "{patient.zip} {patient.ids.9} {name.length} {list.-1}",
            expected: "{patient.zip} {patient.ids.9} {name.length} {list.-1}"),
        RenderCase(source: "{Name}", expected: "{Name}"),
        // Not placeholders at all: code, JSON, spaces, empty names, bad dots.
        RenderCase(source: #"{"a": 1}"#, expected: #"{"a": 1}"#),
        RenderCase(source: #"{"name": "{name}"}"#, expected: #"{"name": "Ada"}"#),
        RenderCase(source: "function f() { return {x: 1}; }", expected: "function f() { return {x: 1}; }"),
        RenderCase(
            source: "{ name } {} {.name} {name.} {a..b} {na me}", expected: "{ name } {} {.name} {name.} {a..b} {na me}"
        ),
        RenderCase(source: "if (x) {name}", expected: "if (x) Ada"),
        RenderCase(source: "{", expected: "{"),
        RenderCase(source: "}", expected: "}"),
        RenderCase(source: "{{", expected: "{{"),
        RenderCase(source: "}}{{}}", expected: "}}{{}}"),
        RenderCase(source: "{name", expected: "{name"),
        RenderCase(source: "name}", expected: "name}"),
        RenderCase(source: "{{name}", expected: "{Ada"),
        RenderCase(source: "{name}}", expected: "Ada}"),
        RenderCase(source: "{{{name}}}", expected: "{{{name}}}", unresolved: ["name"]),
        RenderCase(source: "{{{otp}}}", expected: "{123456}"),
        RenderCase(source: "{{a{name}}}", expected: "{{aAda}}"),
        // Escapes.
        RenderCase(source: "\\{name}", expected: "{name}"),
        RenderCase(source: "\\{{otp}}", expected: "{{otp}}"),
        RenderCase(source: "\\\\{name}", expected: "\\{name}"),
        RenderCase(source: "a\\", expected: "a\\"),
        RenderCase(source: "\\", expected: "\\"),
        RenderCase(source: "\\}", expected: "\\}"),
        // Runtime values.
        RenderCase(source: "code {{otp}}", expected: "code 123456"),
        RenderCase(source: "{{count}} {{clip.rows.0.id}}", expected: "2 7"),
        RenderCase(
            source: "{{missing}} {{otp}} {{missing}} {{other.x}}",
            expected: "{{missing}} 123456 {{missing}} {{other.x}}", unresolved: ["missing", "other.x"]),
        RenderCase(source: "{otp}", expected: "{otp}"),
        RenderCase(source: "{{name}}", expected: "{{name}}", unresolved: ["name"]),
        // Unicode around placeholders.
        RenderCase(source: "🎉{name}🎉", expected: "🎉Ada🎉"),
        RenderCase(source: "{\u{301}name}", expected: "{\u{301}name}"),
        RenderCase(source: "é{name}é", expected: "éAdaé"),
    ]

    @Test("renders", arguments: renderCases)
    func renders(_ testCase: RenderCase) {
        let rendered = Template(testCase.source).render(inputs: testCase.inputs, runtime: testCase.runtime)
        #expect(rendered.displayText == testCase.expected)
        #expect(rendered.text == testCase.expected)
        #expect(rendered.unresolvedRuntimeNames == testCase.unresolved)
        #expect(rendered.secretNames.isEmpty)
    }

    static let parseCases: [(String, [Template.Part])] = [
        ("", []),
        ("plain", [.literal("plain")]),
        ("{a}", [.input(name: "a")]),
        ("x{a.b.c}y", [.literal("x"), .input(name: "a.b.c"), .literal("y")]),
        ("{{r}}", [.runtime(name: "r")]),
        ("{$s}", [.secret(name: "s")]),
        ("{$s.t}", [.secret(name: "s.t")]),
        ("{$$s}", [.literal("{$$s}")]),
        ("{$ s}", [.literal("{$ s}")]),
        ("{{$s}}", [.literal("{"), .secret(name: "s"), .literal("}")]),
        ("\\{a}", [.literal("{a}")]),
        ("{a}\\{b}{c}", [.input(name: "a"), .literal("{b}"), .input(name: "c")]),
        ("{a_b-c9}", [.input(name: "a_b-c9")]),
        ("{9}", [.input(name: "9")]),
        ("{a/b}", [.literal("{a/b}")]),
        ("{a:b}", [.literal("{a:b}")]),
        ("{a$b}", [.literal("{a$b}")]),
    ]

    @Test("parses into parts", arguments: parseCases)
    func parses(source: String, parts: [Template.Part]) {
        #expect(Template(source).parts == parts)
        #expect(Template(source).source == source)
    }

    @Test("names used, in order of first use, without duplicates")
    func names() {
        let template = Template("{b} {a} {b} {{r}} {{q}} {{r}} {$s} {$t} {$s} \\{x}")
        #expect(template.inputNames == ["b", "a"])
        #expect(template.runtimeNames == ["r", "q"])
        #expect(template.secretNames == ["s", "t"])
        #expect(template.hasPlaceholders)
        #expect(!Template("{ nothing } \\{here}").hasPlaceholders)
    }

    @Test("static render is the same as parse then render")
    func staticRender() {
        let rendered = Template.render(
            "{name} {{otp}}", inputs: TemplateFixtures.inputs, runtime: TemplateFixtures.runtime)
        #expect(rendered.text == "Ada 123456")
    }

    @Test("lookUp resolves whole names, then paths through objects and arrays")
    func lookUp() {
        #expect(Template.lookUp("dotted.key", in: TemplateFixtures.inputs) == "literal key")
        #expect(Template.lookUp("patient.ids.0", in: TemplateFixtures.inputs) == 10)
        #expect(Template.lookUp("patient.ids.+1", in: TemplateFixtures.inputs) == nil)
        #expect(Template.lookUp("patient.ids.99999999999999999999", in: TemplateFixtures.inputs) == nil)
        #expect(Template.lookUp("name.first", in: TemplateFixtures.inputs) == nil)
        #expect(Template.lookUp("nope", in: TemplateFixtures.inputs) == nil)
    }
}

@Suite("Template secrets")
struct TemplateSecretTests {
    @Test("secrets become segments and are never resolved, even when an input has their name")
    func segments() {
        let rendered = Template("user {name}\t{$password}\n{{otp}}{$pin}").render(
            inputs: TemplateFixtures.inputs, runtime: TemplateFixtures.runtime)
        #expect(
            rendered.segments == [
                .literal("user Ada\t"), .secret(name: "password"), .literal("\n123456"), .secret(name: "pin"),
            ])
        #expect(rendered.displayText == "user Ada\t{$password}\n123456{$pin}")
        #expect(rendered.text == nil)
        #expect(rendered.secretNames == ["password", "pin"])
    }

    @Test("adjacent secrets stay separate segments; a template of one secret is one segment")
    func adjacent() {
        #expect(Template("{$a}{$b}").render(inputs: [:]).segments == [.secret(name: "a"), .secret(name: "b")])
        #expect(Template("{$a}").render(inputs: [:]).segments == [.secret(name: "a")])
        #expect(Template("{$a.b}").render(inputs: ["a": ["b": "x"]]).segments == [.secret(name: "a.b")])
    }

    @Test(
        "displayText never contains a secret value",
        arguments: [
            "{$password}", "pw={$password}!", "{password}{$password}", "{{$password}}", "{$password}{$password}",
            "{$$password}", "\\{$password}",
        ] as [String])
    func displayTextHidesValues(source: String) {
        // The renderer is never given secret values, but inputs may hold a value under the same
        // name (or `$name`, as the public API shows sensitive keys); none may leak through a `{$…}`.
        let secretValue = "s3cr3t-value"
        let inputs: JSONObject = ["$password": .string(secretValue), "other": "x"]
        let rendered = Template(source).render(inputs: inputs, runtime: ["password": .string(secretValue)])
        #expect(!rendered.displayText.contains(secretValue))
        for case .literal(let text) in rendered.segments {
            #expect(!text.contains(secretValue))
        }
    }

    @Test("empty template renders to no segments")
    func empty() {
        let rendered = Template("").render(inputs: [:])
        #expect(rendered.segments.isEmpty)
        #expect(rendered.text == "")
        #expect(rendered.displayText == "")
    }
}
