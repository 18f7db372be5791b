import Desktop

/// How the run executor treats paths, terminal commands and typing on this machine.
public struct ExecutorConfiguration: Sendable {
    /// The agent user's home: what `~` means in step paths, and `HOME` for terminal commands.
    public var homeDirectory: String
    /// Where file inputs land by default and where exports may come from
    /// (`~/CyberdeskTransfers` unless configured). Created when a run needs it.
    public var transfersDirectory: String
    /// More directories files may be exported from (the agent config's extra roots).
    public var extraExportRoots: [String]
    /// Seconds an `execute_terminal_command` may run when its step gives no `timeout`.
    public var defaultTerminalCommandTimeout: Double
    /// Variables added to the agent's environment for terminal commands (`DISPLAY`, for
    /// instance, when the agent was given its display on the command line). `HOME` is always
    /// ``homeDirectory``.
    public var terminalEnvironment: [String: String]
    /// Pacing of `type` steps; fast by default. A per-key delay helps applications that drop
    /// fast input (remote desktops, browsers in VMs).
    public var typingOptions: TypingOptions
    /// How long `copy_to_clipboard` waits for an application to take the clipboard.
    public var copyTimeout: Double

    /// - Parameters:
    ///   - homeDirectory: `~`; the daemon passes the agent user's home.
    ///   - transfersDirectory: nil for `<home>/CyberdeskTransfers`; a leading `~` is the home.
    ///   - extraExportRoots: more export roots; a leading `~` is the home.
    public init(
        homeDirectory: String, transfersDirectory: String? = nil, extraExportRoots: [String] = [],
        defaultTerminalCommandTimeout: Double = 30, terminalEnvironment: [String: String] = [:],
        typingOptions: TypingOptions = .fast, copyTimeout: Double = 1
    ) {
        let home =
            homeDirectory.count > 1 && homeDirectory.hasSuffix("/") ? String(homeDirectory.dropLast()) : homeDirectory
        func expand(_ path: String) -> String {
            if path == "~" { return home }
            if path.hasPrefix("~/") { return home + path.dropFirst(1) }
            return path
        }
        self.homeDirectory = home
        self.transfersDirectory = transfersDirectory.map(expand) ?? home + "/CyberdeskTransfers"
        self.extraExportRoots = extraExportRoots.map(expand)
        self.defaultTerminalCommandTimeout = defaultTerminalCommandTimeout
        self.terminalEnvironment = terminalEnvironment
        self.typingOptions = typingOptions
        self.copyTimeout = copyTimeout
    }
}
