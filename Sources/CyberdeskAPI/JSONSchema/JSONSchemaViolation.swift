/// One way a value does not satisfy a JSON Schema.
public struct JSONSchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// A JSON pointer to the offending value (`/patient/age`; "" for the value itself), with
    /// `~` and `/` in keys escaped as `~0` and `~1`.
    public let path: String
    /// What is wrong, without the path: `212 is greater than the maximum 150`.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The path and the reason, for API errors: `/patient/age: 212 is greater than the maximum 150`
    /// (`/: …` for the value itself).
    public var message: String {
        (path.isEmpty ? "/" : path) + ": " + reason
    }

    public var description: String { message }
}
