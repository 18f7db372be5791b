#if canImport(Glibc)
    import Glibc
#endif

/// Why a message for the service manager could not be sent, or why the variables systemd
/// set for this process cannot be understood. Each case words what to check, because the
/// text ends up in the journal of a unit that is failing to start or being restarted.
public enum SystemdNotifierError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `NOTIFY_SOCKET` is neither an absolute path nor an abstract `@name` (systemd also
    /// knows `vsock:` addresses, which only matter inside virtual machines).
    case unsupportedSocketAddress(String)
    /// The socket name does not fit into `sockaddr_un.sun_path`.
    case socketAddressTooLong(String, limit: Int)
    /// `WATCHDOG_USEC` or `WATCHDOG_PID` does not hold a positive decimal number.
    case invalidWatchdogVariable(name: String, value: String)
    /// A field name or value would break the newline-separated `NAME=value` datagram.
    case invalidField(String)
    /// socket(2) failed (descriptor limit, or `AF_UNIX` forbidden by a sandbox).
    case socketFailed(errno: Int32)
    /// sendto(2) failed: the socket is gone, or the manager does not read it.
    case sendFailed(address: String, errno: Int32)
    /// sendto(2) accepted only part of the datagram.
    case truncatedSend(address: String, sent: Int, expected: Int)

    public var description: String {
        switch self {
        case .unsupportedSocketAddress(let value):
            return "NOTIFY_SOCKET '\(value)' is neither an absolute path nor an abstract socket name starting with '@'"
        case .socketAddressTooLong(let value, let limit):
            return "NOTIFY_SOCKET '\(value)' is longer than the \(limit) bytes a unix socket address can hold"
        case .invalidWatchdogVariable(let name, let value):
            return "\(name) '\(value)' is not a positive number; unset it or let systemd set it (WatchdogSec=)"
        case .invalidField(let field):
            return "cannot send '\(field)' to systemd: names need no '=' and no newline, values no newline"
        case .socketFailed(let code):
            return "cannot create a socket to notify systemd: \(Self.reason(code))"
        case .sendFailed(let address, let code):
            return "cannot notify systemd at '\(address)': \(Self.reason(code))"
        case .truncatedSend(let address, let sent, let expected):
            return "systemd at '\(address)' accepted \(sent) of \(expected) bytes of a notification"
        }
    }

    /// strerror's words with the number, so both a reader and a search engine find it.
    private static func reason(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}
