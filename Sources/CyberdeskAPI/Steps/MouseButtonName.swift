/// A mouse button as named in steps (`button` argument).
///
/// Named `…Name` because the desktop library has its own button type (with X button
/// numbers); this one is only the vocabulary of the trajectory format.
public enum MouseButtonName: String, Sendable, Hashable, CaseIterable {
    case left
    case right
    case middle
}
