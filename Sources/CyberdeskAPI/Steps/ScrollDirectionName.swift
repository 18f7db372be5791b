/// The `direction` of a `scroll` step.
public enum ScrollDirectionName: String, Sendable, Hashable, CaseIterable {
    case up
    case down
    case left
    case right
}
