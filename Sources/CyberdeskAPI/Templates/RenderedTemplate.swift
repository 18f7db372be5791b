/// The result of rendering a ``Template``: text with secrets still unresolved.
///
/// Secrets are kept as named segments instead of being substituted so that a secret value
/// exists only inside the agent's `type` action, for as long as it takes to type it. Anything
/// that is stored or logged (run history, errors, `output_data`) uses ``displayText``, which
/// shows `{$name}` in place of each secret and therefore cannot leak one.
public struct RenderedTemplate: Sendable, Hashable {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        /// A sensitive input to fetch and type; the name is as written (`creds.password`).
        case secret(name: String)
    }

    /// Literal text and secrets in order; adjacent literals are merged, empty ones dropped.
    public let segments: [Segment]

    /// `{{name}}` placeholders that had no runtime value and were left as typed text, in
    /// order of first use; the caller decides whether to warn.
    public let unresolvedRuntimeNames: [String]

    /// The text with each secret shown as its placeholder `{$name}`: safe for history and logs.
    public var displayText: String {
        var text = ""
        for segment in segments {
            switch segment {
            case .literal(let literal): text += literal
            case .secret(let name): text += "{$" + name + "}"
            }
        }
        return text
    }

    /// The rendered text when there is no secret in it, else nil (the caller must go through
    /// ``segments`` and fetch the secrets).
    public var text: String? {
        switch segments.count {
        case 0: return ""
        case 1:
            if case .literal(let literal) = segments[0] { return literal }
            return nil
        default: return nil
        }
    }

    /// Sensitive input names used, in order of first use.
    public var secretNames: [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for case .secret(let name) in segments where seen.insert(name).inserted {
            names.append(name)
        }
        return names
    }

    /// Accumulates segments while rendering.
    struct Builder {
        private var segments: [Segment] = []
        private var literal = ""
        private var unresolvedNames: [String] = []
        private var seenUnresolved: Set<String> = []

        mutating func append(_ text: String) {
            literal += text
        }

        mutating func appendSecret(_ name: String) {
            flush()
            segments.append(.secret(name: name))
        }

        mutating func unresolved(_ name: String) {
            if seenUnresolved.insert(name).inserted {
                unresolvedNames.append(name)
            }
        }

        consuming func build() -> RenderedTemplate {
            flush()
            return RenderedTemplate(segments: segments, unresolvedRuntimeNames: unresolvedNames)
        }

        private mutating func flush() {
            if !literal.isEmpty {
                segments.append(.literal(literal))
                literal = ""
            }
        }
    }
}
