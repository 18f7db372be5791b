/// A parsed template string: the text of a step argument with its placeholders located.
///
/// The syntax (`STEPS.md`, "Templates"):
/// - `{name}`, `{name.path}`: an input value of the run.
/// - `{{name}}`, `{{name.path}}`: a runtime value produced earlier in the run.
/// - `{$name}`, `{$name.path}`: a sensitive input. It is never resolved here; rendering
///   leaves a ``RenderedTemplate/Segment/secret(name:)`` segment so the agent fetches and
///   types the value at the last instant.
/// - `\{`: a literal `{` that never opens a placeholder. A backslash before anything else is
///   an ordinary character (so `C:\Users` and `\n` in typed code stay as they are); there is
///   no way to put a literal backslash right before a placeholder.
///
/// A name is one or more segments separated by single dots. A segment is one or more
/// Unicode letters (general category L), decimal digits (Nd), `_` or `-`. No spaces, no
/// quotes, no empty segments: `{ name }`, `{"a": 1}`, `{a..b}`, `{.a}` and `{}` are not
/// placeholders and stay as typed text, which is what keeps code and JSON intact. `$` is
/// only the sensitive prefix and cannot appear in a name.
///
/// Parsing is total: every string is a valid template, and anything that is not a well-formed
/// placeholder is literal text. Matching is left to right: `{{` first tries a runtime
/// placeholder, and if that fails the first `{` is literal and parsing resumes at the second.
/// Substituted values are not parsed again, so a value containing braces (or `{$x}`) is
/// typed exactly as it is.
public struct Template: Sendable, Hashable {
    /// One piece of a template, in source order. Adjacent literal text is merged.
    public enum Part: Sendable, Hashable {
        case literal(String)
        /// `{name}`: the name as written, dots included (`patient.age`).
        case input(name: String)
        /// `{{name}}`.
        case runtime(name: String)
        /// `{$name}`.
        case secret(name: String)
    }

    /// The text the template was parsed from.
    public let source: String
    public let parts: [Part]

    public init(_ source: String) {
        self.source = source
        self.parts = TemplateParser(source).parse()
    }

    /// Input names referenced with `{name}`/`{name.path}`, as written, in order of first use.
    public var inputNames: [String] {
        uniqueNames { part in
            if case .input(let name) = part { return name }
            return nil
        }
    }

    /// Runtime names referenced with `{{name}}`, as written, in order of first use.
    public var runtimeNames: [String] {
        uniqueNames { part in
            if case .runtime(let name) = part { return name }
            return nil
        }
    }

    /// Sensitive input names referenced with `{$name}`, in order of first use.
    public var secretNames: [String] {
        uniqueNames { part in
            if case .secret(let name) = part { return name }
            return nil
        }
    }

    /// Whether the text contains any placeholder (rendering may then change it).
    public var hasPlaceholders: Bool {
        parts.contains { part in
            if case .literal = part { return false }
            return true
        }
    }

    /// Substitutes inputs and runtime values; leaves secrets as segments.
    ///
    /// A `{name}` that is not an input (or whose path does not exist) stays as typed text, as
    /// does an unknown `{{name}}`; the latter is also listed in
    /// ``RenderedTemplate/unresolvedRuntimeNames`` because it usually means a step that should
    /// have produced the value did not run or was misspelled. Values are rendered with
    /// ``JSONValue/templateText`` (strings as they are, other values as compact JSON).
    ///
    /// Names are looked up first as a whole (an input literally named `a.b`), then as a path:
    /// the first segment in the dictionary, each next segment as an object key or, in an
    /// array, as a zero-based index.
    public func render(inputs: JSONObject, runtime: JSONObject = [:]) -> RenderedTemplate {
        var builder = RenderedTemplate.Builder()
        for part in parts {
            switch part {
            case .literal(let text):
                builder.append(text)
            case .input(let name):
                if let value = Template.lookUp(name, in: inputs) {
                    builder.append(value.templateText)
                } else {
                    builder.append("{" + name + "}")
                }
            case .runtime(let name):
                if let value = Template.lookUp(name, in: runtime) {
                    builder.append(value.templateText)
                } else {
                    builder.append("{{" + name + "}}")
                    builder.unresolved(name)
                }
            case .secret(let name):
                builder.appendSecret(name)
            }
        }
        return builder.build()
    }

    /// Parses and renders in one go, for callers that render a string once.
    public static func render(_ text: String, inputs: JSONObject, runtime: JSONObject = [:]) -> RenderedTemplate {
        Template(text).render(inputs: inputs, runtime: runtime)
    }

    /// Resolves a (possibly dotted) name against a dictionary; see ``render(inputs:runtime:)``.
    public static func lookUp(_ name: String, in values: JSONObject) -> JSONValue? {
        if let value = values[name] { return value }
        let segments = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard segments.count > 1, var current = values[segments[0]] else { return nil }
        for segment in segments.dropFirst() {
            switch current {
            case .object(let members):
                guard let next = members[segment] else { return nil }
                current = next
            case .array(let elements):
                guard segment.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let index = Int(segment),
                    index < elements.count
                else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    private func uniqueNames(_ name: (Part) -> String?) -> [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for part in parts {
            if let found = name(part), seen.insert(found).inserted {
                names.append(found)
            }
        }
        return names
    }
}
