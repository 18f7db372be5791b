#if canImport(Glibc)
    import Glibc
#endif

/// A file operation that failed, or a path a step may not use. The message names the path
/// and what to change.
enum FileProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed with `errno`.
    case system(operation: String, path: String, errno: Int32)
    /// The path breaks a rule of `STEPS.md` (outside the export roots, `..`, a symlink leading
    /// out of the transfers folder...); the message says which.
    case refused(String)
    case tooLarge(path: String, bytes: Int, limit: Int)

    /// Whether the problem is in the task (a missing file, a forbidden path, no permission)
    /// rather than in the machine (disk full, I/O error): decides `task_failed` or `error`.
    var isTaskProblem: Bool {
        switch self {
        case .refused, .tooLarge:
            return true
        case .system(_, _, let code):
            return [ENOENT, ENOTDIR, EISDIR, EACCES, EPERM, ELOOP, ENAMETOOLONG, EEXIST, ENOTEMPTY].contains(code)
        }
    }

    var description: String {
        switch self {
        case .system(let operation, let path, let code):
            return "cannot \(operation) '\(path)': \(String(cString: strerror(code)))"
        case .refused(let message):
            return message
        case .tooLarge(let path, let bytes, let limit):
            return "'\(path)' is \(bytes) bytes; at most \(limit) bytes can be read into a value"
        }
    }
}
