/// Turns typed text into the template a trajectory keeps (STEPS.md, Templates): text equal
/// to a secret's value becomes `{$NAME}`, to an input's value `{NAME}`, also inside a longer
/// stretch (`Dr. {patient}`); a literal `{` is written `\{` so it is typed, not read as a
/// placeholder.
///
/// Secrets are replaced first and longest first, so an input value inside a secret never
/// leaves part of the secret in clear. Values are held only in memory.
public struct TypedTextTemplater: Sendable {
    public struct Value: Sendable {
        public var name: String
        public var value: String
        public var isSecret: Bool

        public init(name: String, value: String, isSecret: Bool) {
            self.name = name
            self.value = value
            self.isSecret = isSecret
        }
    }

    private let values: [Value]

    /// Names must be template names (letters, digits, `_`, `-`, `.`), values non-empty.
    public init(_ values: [Value]) throws(RecorderError) {
        for value in values {
            guard !value.name.isEmpty,
                value.name.unicodeScalars.allSatisfy({
                    ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
                        || $0 == "-"
                })
            else {
                throw .badTemplateValue(name: value.name, reason: "a name is letters, digits, '_' and '-'")
            }
            guard !value.value.isEmpty else {
                throw .badTemplateValue(name: value.name, reason: "its value is empty")
            }
        }
        // Secrets first, then longer values first: the most specific match wins.
        self.values = values.sorted {
            $0.isSecret != $1.isSecret ? $0.isSecret : $0.value.unicodeScalars.count > $1.value.unicodeScalars.count
        }
    }

    public var isEmpty: Bool { values.isEmpty }

    /// The template for `typed`.
    public func template(_ typed: String) -> String {
        // Work on scalars: a value must match whole characters as typed, and replacements
        // are never matched again.
        enum Piece {
            case text([Unicode.Scalar])
            case placeholder(String)
        }
        var pieces: [Piece] = [.text(Array(typed.unicodeScalars))]
        for value in values {
            let needle = Array(value.value.unicodeScalars)
            var next: [Piece] = []
            for piece in pieces {
                guard case .text(let scalars) = piece else {
                    next.append(piece)
                    continue
                }
                var start = 0
                var index = 0
                while index + needle.count <= scalars.count {
                    if scalars[index..<index + needle.count].elementsEqual(needle) {
                        if index > start { next.append(.text(Array(scalars[start..<index]))) }
                        next.append(.placeholder(value.isSecret ? "{$\(value.name)}" : "{\(value.name)}"))
                        index += needle.count
                        start = index
                    } else {
                        index += 1
                    }
                }
                if start < scalars.count { next.append(.text(Array(scalars[start...]))) }
            }
            pieces = next
        }
        var out = ""
        for piece in pieces {
            switch piece {
            case .placeholder(let text): out += text
            case .text(let scalars):
                for scalar in scalars {
                    if scalar == "{" { out += "\\" }
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
