#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd how a `Type=notify` service is doing, the way sd_notify(3) does, without
/// linking libsystemd: each message is one datagram of newline-separated `NAME=value`
/// assignments sent to the `AF_UNIX` socket named by `$NOTIFY_SOCKET`.
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing and returns `false`,
/// so the daemon calls the same methods whether or not it runs under a service manager.
/// Sending never crashes the process: failures are thrown as ``SystemdNotifierError``
/// and the caller decides to log them, since a missed notification is rarely fatal.
public struct SystemdNotifier: Sendable {
    /// Where notifications go; `nil` when `NOTIFY_SOCKET` is unset.
    public let socketAddress: NotifySocketAddress?
    /// The service's `WatchdogSec=` when it applies to this process and there is a socket
    /// to ping; `nil` otherwise.
    public let watchdogPeriod: Duration?

    /// Reads `NOTIFY_SOCKET` (empty counts as unset), `WATCHDOG_USEC` and `WATCHDOG_PID`.
    ///
    /// Throws when a variable is set but malformed: systemd always sets well-formed values,
    /// so a malformed one is a mistake in a hand-made environment, better reported at
    /// startup than discovered when the watchdog kills the service.
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        processID: pid_t = getpid()
    ) throws(SystemdNotifierError) {
        var address: NotifySocketAddress?
        if let value = environment["NOTIFY_SOCKET"], !value.isEmpty {
            address = try NotifySocketAddress(parsing: value)
        }
        let period = try Self.watchdogPeriod(environment: environment, processID: processID)
        self.init(socketAddress: address, watchdogPeriod: address == nil ? nil : period)
    }

    /// A notifier for an explicit socket, for callers that do not take systemd's variables.
    public init(socketAddress: NotifySocketAddress?, watchdogPeriod: Duration? = nil) {
        self.socketAddress = socketAddress
        self.watchdogPeriod = watchdogPeriod
    }

    /// Whether messages go anywhere.
    public var isEnabled: Bool { socketAddress != nil }

    /// How often to send `WATCHDOG=1`: half the watchdog period, as sd_watchdog_enabled(3)
    /// recommends, so one late ping does not get the service killed.
    public var watchdogInterval: Duration? { watchdogPeriod.map { $0 / 2 } }

    /// `READY=1`: start-up is finished; `systemctl start` returns and units ordered after
    /// this one start. Optionally with a `STATUS=` line for `systemctl status`.
    @discardableResult
    public func ready(status: String? = nil) throws(SystemdNotifierError) -> Bool {
        try send([("READY", "1")] + Self.statusField(status))
    }

    /// `STOPPING=1`: shutdown has begun (the unit shows "deactivating" at once, not only
    /// when the process exits).
    @discardableResult
    public func stopping(status: String? = nil) throws(SystemdNotifierError) -> Bool {
        try send([("STOPPING", "1")] + Self.statusField(status))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=`, which systemd 253 and later need to match the
    /// message with the reload they asked for. Send ``ready(status:)`` when reloading ends.
    @discardableResult
    public func reloading(status: String? = nil) throws(SystemdNotifierError) -> Bool {
        try send(
            [("RELOADING", "1"), ("MONOTONIC_USEC", String(Self.monotonicMicroseconds()))]
                + Self.statusField(status))
    }

    /// `STATUS=`: one line of free text shown by `systemctl status`.
    @discardableResult
    public func status(_ text: String) throws(SystemdNotifierError) -> Bool {
        try send(Self.statusField(text))
    }

    /// `WATCHDOG=1`: the service is alive; resets the `WatchdogSec=` timer.
    @discardableResult
    public func watchdog() throws(SystemdNotifierError) -> Bool {
        try send([("WATCHDOG", "1")])
    }

    /// Sends assignments as one datagram, in order. Returns `false` without sending when
    /// `NOTIFY_SOCKET` was unset.
    @discardableResult
    public func send(_ fields: [(name: String, value: String)]) throws(SystemdNotifierError) -> Bool {
        guard let socketAddress else { return false }
        let datagram = try Self.datagram(fields)
        try Self.sendDatagram(Array(datagram.utf8), to: socketAddress)
        return true
    }

    /// Joins fields into `NAME=value` lines, refusing what would read as another field.
    static func datagram(_ fields: [(name: String, value: String)]) throws(SystemdNotifierError) -> String {
        var lines: [String] = []
        for (name, value) in fields {
            let line = "\(name)=\(value)"
            guard !name.isEmpty, !name.contains("="), !line.contains(where: \.isNewline) else {
                throw .invalidField(line)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// A `STATUS=` field; line breaks become spaces (trailing ones go) because a status is
    /// often an error's text, and losing the `READY=1` that travels with it would be worse
    /// than reflowing it.
    private static func statusField(_ status: String?) -> [(name: String, value: String)] {
        guard let status else { return [] }
        var line = Substring(status.map { $0.isNewline ? " " : $0 })
        while line.last?.isWhitespace == true { line.removeLast() }
        return [("STATUS", String(line))]
    }

    /// CLOCK_MONOTONIC in microseconds, the clock systemd compares reload requests with.
    private static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    /// One socket per message, as sd_notify does: nothing to keep open across a fork, a
    /// restart of the manager, or a switch to another `NOTIFY_SOCKET`.
    private static func sendDatagram(_ bytes: [UInt8], to address: NotifySocketAddress) throws(SystemdNotifierError) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketFailed(errno: errno) }
        defer { close(fd) }
        let (sent, code) = try address.withSocketAddress { (pointer, length) in
            bytes.withUnsafeBytes { buffer in
                var result: Int
                repeat {
                    result = sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), pointer, length)
                } while result < 0 && errno == EINTR
                return (result, result < 0 ? errno : 0)
            }
        }
        guard sent >= 0 else { throw .sendFailed(address: address.description, errno: code) }
        guard sent == bytes.count else {
            throw .truncatedSend(address: address.description, sent: sent, expected: bytes.count)
        }
    }

    /// `WATCHDOG_USEC` as a duration, or `nil` when unset or meant for another process:
    /// systemd sets `WATCHDOG_PID` so that children that inherit the environment do not
    /// believe the watchdog is theirs.
    static func watchdogPeriod(
        environment: [String: String], processID: pid_t
    ) throws(SystemdNotifierError) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"] else { return nil }
        guard let microseconds = UInt64(text), microseconds > 0 else {
            throw .invalidWatchdogVariable(name: "WATCHDOG_USEC", value: text)
        }
        if let pidText = environment["WATCHDOG_PID"] {
            guard let pid = pid_t(pidText), pid > 0 else {
                throw .invalidWatchdogVariable(name: "WATCHDOG_PID", value: pidText)
            }
            guard pid == processID else { return nil }
        }
        return .microseconds(microseconds)
    }
}
