#if canImport(Glibc)
    import Glibc
#endif

/// Where systemd listens for notifications, as `$NOTIFY_SOCKET` names it: a file system
/// path (`/run/systemd/notify`) or an abstract socket (`@/org/freedesktop/systemd1/...`),
/// which lives in the network namespace rather than in a directory.
public enum NotifySocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// An absolute path to a socket file.
    case path(String)
    /// An abstract socket name, without the leading `@`.
    case abstract(String)

    /// The room in `sockaddr_un.sun_path`: 108 bytes on Linux, one of them the path's NUL
    /// terminator or the abstract name's leading NUL.
    static let maximumNameLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Parses `$NOTIFY_SOCKET`. Relative paths are refused like libsystemd refuses them: a
    /// relative name would depend on the working directory, which systemd never means.
    public init(parsing value: String) throws(SystemdNotifierError) {
        if value.hasPrefix("@") {
            self = .abstract(String(value.dropFirst()))
        } else if value.hasPrefix("/") {
            self = .path(value)
        } else {
            throw .unsupportedSocketAddress(value)
        }
        guard !value.utf8.contains(0) else { throw .unsupportedSocketAddress(value) }
        guard value.utf8.count <= Self.maximumNameLength else {
            throw .socketAddressTooLong(value, limit: Self.maximumNameLength)
        }
    }

    /// The address as `$NOTIFY_SOCKET` spells it.
    public var description: String {
        switch self {
        case .path(let path): return path
        case .abstract(let name): return "@" + name
        }
    }

    /// Calls `body` with this address as a `sockaddr_un`. An abstract address is a leading
    /// NUL and then exactly the name's bytes: its length counts, a trailing NUL would be part
    /// of another name.
    func withSocketAddress<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
    ) throws(SystemdNotifierError) -> Result {
        let (prefix, name): ([UInt8], String) =
            switch self {
            case .path(let path): ([], path)
            case .abstract(let name): ([0], name)
            }
        let bytes = prefix + Array(name.utf8) + (prefix.isEmpty ? [0] : [])
        guard bytes.count <= Self.maximumNameLength + 1 else {
            throw .socketAddressTooLong(description, limit: Self.maximumNameLength)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }
}
