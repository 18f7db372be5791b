/// The `mode` of a `write_file` step: `write` replaces the file atomically, `append` adds
/// to its end (creating it if missing).
public enum WriteMode: String, Sendable, Hashable, CaseIterable {
    case write
    case append
}
