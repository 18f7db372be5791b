import CyberdeskAPI
import TestSupport
import Testing

@Suite("Template properties")
struct TemplatePropertyTests {
    /// Pieces that stress the parser: braces, escapes, name characters, combining marks.
    static let pieces: [String] = [
        "{", "}", "\\", "$", ".", "a", "b", "name", "_", "-", "1", " ", "\"", ":", "é", "日", "🎉", "\u{301}",
        "\n", "{{", "}}", "{$", "\\{", "\u{0}", "\u{FEFF}",
    ]

    static func randomString(_ generator: inout SeededGenerator, alphabet: [String], maxPieces: Int) -> String {
        let count = Int.random(in: 0...maxPieces, using: &generator)
        return (0..<count).map { _ in alphabet.randomElement(using: &generator)! }.joined()
    }

    /// `\{` → `{`, scanning scalars left to right like the parser (independent code, same rule).
    static func unescaped(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "\\", index + 1 < scalars.count, scalars[index + 1] == "{" {
                out.append("{")
                index += 2
            } else {
                out.append(scalars[index])
                index += 1
            }
        }
        return String(out)
    }

    @Test("any string parses; with no values it renders to itself, escapes aside", arguments: 0..<8)
    func randomStrings(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            let source = TemplatePropertyTests.randomString(
                &generator, alphabet: TemplatePropertyTests.pieces, maxPieces: 30)
            let template = Template(source)
            let rendered = template.render(inputs: [:], runtime: [:])
            #expect(
                rendered.displayText == TemplatePropertyTests.unescaped(source), "source: \(source.debugDescription)")
            #expect(Set(rendered.unresolvedRuntimeNames) == Set(template.runtimeNames))
            #expect(rendered.secretNames == template.secretNames)
            // Rendering with values for every name never crashes and leaves no placeholder syntax
            // of a known name behind.
            var values: JSONObject = [:]
            for name in template.inputNames + template.runtimeNames { values[name] = "V" }
            let filled = template.render(inputs: values, runtime: values)
            #expect(filled.unresolvedRuntimeNames.isEmpty)
        }
    }

    @Test("a string without '{' renders to itself whatever the values", arguments: 0..<4)
    func withoutBraces(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let alphabet = TemplatePropertyTests.pieces.filter { !$0.contains("{") }
        for _ in 0..<500 {
            let source = TemplatePropertyTests.randomString(&generator, alphabet: alphabet, maxPieces: 30)
            let rendered = Template(source).render(inputs: TemplateFixtures.inputs, runtime: TemplateFixtures.runtime)
            #expect(rendered.text == source)
            #expect(Template(source).parts == (source.isEmpty ? [] : [.literal(source)]))
        }
    }

    static let literalAlphabet = ["a", "Z", " ", "$", ".", "é", "日", "🎉", "\n", "-", "_", "9", "\"", ":"]
    static let nameSegments = ["a", "b2", "nom", "élève", "x_y", "k-1", "日本"]

    static func randomName(_ generator: inout SeededGenerator) -> String {
        let count = Int.random(in: 1...3, using: &generator)
        return (0..<count).map { _ in nameSegments.randomElement(using: &generator)! }.joined(separator: ".")
    }

    @Test("templates built from known pieces render to the expected segments", arguments: 0..<8)
    func modelBased(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<300 {
            var source = ""
            var inputs: JSONObject = [:]
            var runtime: JSONObject = [:]
            var expected: [RenderedTemplate.Segment] = []
            var unresolved: [String] = []
            var unknownInputs: Set<String> = []
            func appendLiteral(_ text: String) {
                if case .literal(let previous) = expected.last {
                    expected[expected.count - 1] = .literal(previous + text)
                } else if !text.isEmpty {
                    expected.append(.literal(text))
                }
            }
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                let name = TemplatePropertyTests.randomName(&generator)
                let value = "<" + name + ">"
                switch Int.random(in: 0..<5, using: &generator) {
                case 0:
                    let text = TemplatePropertyTests.randomString(
                        &generator, alphabet: TemplatePropertyTests.literalAlphabet, maxPieces: 6)
                    source += text
                    appendLiteral(text)
                case 1:
                    source += "{" + name + "}"
                    // Known or not is decided at a name's first use and kept.
                    if inputs[name] == nil, !unknownInputs.contains(name) {
                        if Bool.random(using: &generator) {
                            inputs[name] = .string(value)
                        } else {
                            unknownInputs.insert(name)
                        }
                    }
                    appendLiteral(inputs[name] == nil ? "{" + name + "}" : value)
                case 2:
                    source += "{{" + name + "}}"
                    if runtime[name] == nil, !unresolved.contains(name) {
                        if Bool.random(using: &generator) {
                            runtime[name] = .string(value)
                        } else {
                            unresolved.append(name)
                        }
                    }
                    appendLiteral(runtime[name] == nil ? "{{" + name + "}}" : value)
                case 3:
                    source += "{$" + name + "}"
                    expected.append(.secret(name: name))
                default:
                    source += "\\{"
                    appendLiteral("{")
                }
            }
            let rendered = Template(source).render(inputs: inputs, runtime: runtime)
            #expect(rendered.segments == expected, "source: \(source.debugDescription)")
            #expect(rendered.unresolvedRuntimeNames == unresolved, "source: \(source.debugDescription)")
        }
    }

    @Test("pathological inputs parse quickly and completely")
    func pathological() {
        let inputs = [
            String(repeating: "{", count: 100_000),
            String(repeating: "{{a", count: 50_000),
            String(repeating: "{a.", count: 50_000) + "}",
            String(repeating: "\\", count: 100_000) + "{",
            "{" + String(repeating: "a", count: 200_000),
            String(repeating: "{$", count: 50_000),
        ]
        for source in inputs {
            let rendered = Template(source).render(inputs: ["a": "x"])
            #expect(rendered.displayText.unicodeScalars.count <= source.unicodeScalars.count + 1)
        }
    }
}
