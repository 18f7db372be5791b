import CyberdeskAPI

/// A test world whose request tables name its records as `{name}` placeholders in paths,
/// headers and bodies, so the tables can be written before the records exist.
protocol Placeholders {
    var values: [String: String] { get }
}

extension Placeholders {
    func fill(_ text: String) -> String {
        var filled = text
        for (name, value) in values { filled = filled.replacingOccurrences(of: "{\(name)}", with: value) }
        return filled
    }

    func fill(_ json: JSONValue) -> JSONValue {
        switch json {
        case .string(let text): .string(fill(text))
        case .array(let items): .array(items.map(fill))
        case .object(let members): .object(members.mapValues(fill))
        default: json
        }
    }
}
