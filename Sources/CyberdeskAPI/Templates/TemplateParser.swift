/// The scanner behind ``Template``; the grammar is documented there.
///
/// It works on Unicode scalars rather than `Character`s: a `{` followed by a combining mark
/// is one `Character` but still a brace to the person who typed it, and copying scalars one
/// by one guarantees that literal text comes out byte for byte as it went in. Every branch
/// advances by at least one scalar and every index is checked, so the parser cannot loop or
/// trap whatever the input.
struct TemplateParser {
    private let scalars: [Unicode.Scalar]
    private var parts: [Template.Part] = []
    private var literal = String.UnicodeScalarView()

    init(_ source: String) {
        self.scalars = Array(source.unicodeScalars)
    }

    consuming func parse() -> [Template.Part] {
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count, scalars[index + 1] == "{" {
                literal.append("{")
                index += 2
            } else if scalar == "{" {
                index = placeholder(at: index)
            } else {
                literal.append(scalar)
                index += 1
            }
        }
        flushLiteral()
        return parts
    }

    /// Tries the placeholder forms at a `{`; returns the index after what was consumed.
    private mutating func placeholder(at start: Int) -> Int {
        let next = start + 1 < scalars.count ? scalars[start + 1] : nil
        if next == "{" {
            if let end = name(from: start + 2), closes(at: end, count: 2) {
                emit(.runtime(name: text(start + 2, end)))
                return end + 2
            }
        } else if next == "$" {
            if let end = name(from: start + 2), closes(at: end, count: 1) {
                emit(.secret(name: text(start + 2, end)))
                return end + 1
            }
        } else if let end = name(from: start + 1), closes(at: end, count: 1) {
            emit(.input(name: text(start + 1, end)))
            return end + 1
        }
        literal.append("{")
        return start + 1
    }

    /// The end of a dotted name starting at `start`, or nil when there is none.
    private func name(from start: Int) -> Int? {
        var index = start
        var segmentLength = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if TemplateParser.isNameScalar(scalar) {
                segmentLength += 1
            } else if scalar == "." && segmentLength > 0 {
                segmentLength = 0
            } else {
                break
            }
            index += 1
        }
        // A name cannot be empty or end with a dot.
        return segmentLength > 0 ? index : nil
    }

    private func closes(at index: Int, count: Int) -> Bool {
        guard index + count <= scalars.count else { return false }
        return scalars[index..<index + count].allSatisfy { $0 == "}" }
    }

    private func text(_ start: Int, _ end: Int) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<end])
        return String(view)
    }

    private mutating func emit(_ part: Template.Part) {
        flushLiteral()
        parts.append(part)
    }

    private mutating func flushLiteral() {
        guard !literal.isEmpty else { return }
        parts.append(.literal(String(literal)))
        literal = String.UnicodeScalarView()
    }

    static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" || scalar == "-" { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            return true
        default:
            return false
        }
    }
}
