#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A write that failed for lack of space is the server's condition, not the caller's
/// mistake, and it clears when space returns: API callers get 503 with one clear message
/// (not a 500 naming a file on the server), and nothing half-written is kept.
enum DiskFull {
    static let message =
        "the server's disk is full; nothing was saved (retry once space is freed on the server)"

    /// ENOSPC, a quota, or the process's file size limit (EFBIG with SIGXFSZ ignored).
    static func matches(errno code: Int32) -> Bool { code == ENOSPC || code == EDQUOT || code == EFBIG }

    /// `ControlPlaneError.unavailable` when `code` means a full disk, `other` otherwise.
    static func error(errno code: Int32, otherwise other: @autoclosure () -> any Error) -> any Error {
        matches(errno: code) ? ControlPlaneError.unavailable(message) : other()
    }
}
