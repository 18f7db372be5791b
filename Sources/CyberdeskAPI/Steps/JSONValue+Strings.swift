extension JSONValue {
    /// Every string in the value, object keys excluded, depth first.
    var allStrings: [String] {
        var strings: [String] = []
        collectStrings(into: &strings)
        return strings
    }

    private func collectStrings(into strings: inout [String]) {
        switch self {
        case .string(let value): strings.append(value)
        case .array(let values): for value in values { value.collectStrings(into: &strings) }
        case .object(let members):
            for key in members.keys.sorted() { members[key]!.collectStrings(into: &strings) }
        case .null, .bool, .int, .double: break
        }
    }
}
