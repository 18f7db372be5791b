#if canImport(Glibc)
    import Glibc
#endif

/// Where log lines go, which decides how they look. Chosen once at startup from what
/// stderr is connected to, because the same binary runs under systemd, in a terminal and
/// behind a pipe, and each reader wants something else.
public enum LogOutput: Sendable, Equatable {
    /// stderr is a journald stream: `<N>message key=value`, where journald reads `<N>` as
    /// the syslog priority and adds the time itself; no colours.
    case journal
    /// stderr is a terminal: `HH:MM:SS.mmm LEVEL message key=value`, coloured by level
    /// unless `NO_COLOR` is set or `TERM` is `dumb`.
    case terminal(colors: Bool)
    /// Anything else (a file, a pipe to another program): ISO 8601 UTC time, level,
    /// message, metadata, no colours.
    case plain

    /// Picks the output for `stderrFD`.
    ///
    /// The journal check compares `JOURNAL_STREAM` (`DEVICE:INODE`, set by systemd for its
    /// journal connection) with fstat(2) of stderr instead of trusting the variable alone:
    /// it is inherited, so a program started from a service with stderr redirected to a
    /// file still has it, and must not write `<N>` prefixes into that file.
    public static func detect(environment: [String: String], stderrFD: Int32 = STDERR_FILENO) -> LogOutput {
        if isJournalStream(environment["JOURNAL_STREAM"], fileDescriptor: stderrFD) {
            return .journal
        }
        if isatty(stderrFD) == 1 {
            return .terminal(colors: wantsColors(environment))
        }
        return .plain
    }

    /// Whether `fileDescriptor` is the stream `JOURNAL_STREAM` names.
    static func isJournalStream(_ value: String?, fileDescriptor: Int32) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else {
            return false
        }
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// Colours unless the user opted out: https://no-color.org says any non-empty
    /// `NO_COLOR` disables them; `TERM=dumb` terminals cannot show them.
    static func wantsColors(_ environment: [String: String]) -> Bool {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }
}
