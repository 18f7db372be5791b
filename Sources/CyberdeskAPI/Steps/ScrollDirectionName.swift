/// The `direction` of a `scroll` step.
public enum ScrollDirection: String, Sendable, Hashable, CaseIterable {
    case up
    case down
    case left
    case right
}
