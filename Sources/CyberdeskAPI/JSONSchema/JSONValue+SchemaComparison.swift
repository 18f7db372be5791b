extension JSONValue {
    /// Equality as JSON Schema defines it for `enum`, `const` and `uniqueItems`: numbers are
    /// equal by value whatever their representation (`3` equals `3.0`), unlike `==`.
    func jsonEquals(_ other: JSONValue) -> Bool {
        switch (self, other) {
        case (.int(let left), .int(let right)):
            return left == right
        case (.int, .double), (.double, .int), (.double, .double):
            return numericOrder(other) == 0
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.jsonEquals($1) }
        case (.object(let left), .object(let right)):
            return left.count == right.count
                && left.allSatisfy { key, value in right[key].map { value.jsonEquals($0) } ?? false }
        default:
            return self == other
        }
    }

    /// -1, 0 or 1 comparing two numbers; exact for two integers (beyond 2^53 too), through
    /// `Double` otherwise. Only meaningful when both are numbers.
    func numericOrder(_ other: JSONValue) -> Int {
        if case .int(let left) = self, case .int(let right) = other {
            return left < right ? -1 : (left == right ? 0 : 1)
        }
        let left = doubleValue ?? .nan
        let right = other.doubleValue ?? .nan
        return left < right ? -1 : (left == right ? 0 : 1)
    }

    /// `multipleOf`: exact for integers; for fractions, within a relative 1e-9 of a whole
    /// quotient, so that 0.3 counts as a multiple of 0.1 despite binary floating point.
    func isMultiple(of divisor: JSONValue) -> Bool {
        if case .int(let value) = self, case .int(let step) = divisor, step != 0 {
            return value % step == 0
        }
        guard let value = doubleValue, let step = divisor.doubleValue, step != 0 else { return true }
        let quotient = value / step
        guard quotient.isFinite else { return false }
        return abs(quotient - quotient.rounded()) <= 1e-9 * max(1, abs(quotient))
    }
}
