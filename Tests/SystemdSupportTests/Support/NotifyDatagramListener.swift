import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The service manager's end of `$NOTIFY_SOCKET` for a test: a real `AF_UNIX` datagram
/// socket bound at a fresh path or abstract name. The address is built here independently
/// of the code under test, so an encoding mistake there cannot hide behind the same
/// mistake here.
final class NotifyDatagramListener {
    /// The value to put in `NOTIFY_SOCKET`.
    let notifySocket: String
    private let fd: Int32
    private let directory: String?

    /// Binds a socket file in a new temporary directory, or an abstract name unique to this
    /// process and listener.
    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemTestError("socket: \(String(cString: strerror(errno)))") }
        let name: [UInt8]
        if abstract {
            directory = nil
            notifySocket = "@cyberdesk-test/\(getpid())/\(UUID().uuidString)"
            name = [0] + Array(notifySocket.utf8.dropFirst())
        } else {
            var template = Array("/tmp/cyberdesk-notify-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw SystemTestError("mkdtemp failed") }
            let folder = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            directory = folder
            notifySocket = folder + "/notify"
            name = Array(notifySocket.utf8) + [0]
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw SystemTestError("bind \(notifySocket): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        if let directory {
            unlink(notifySocket)
            rmdir(directory)
        }
    }

    /// The next datagram, waiting up to `timeout` for it to arrive.
    func receive(timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let datagram = try pending() { return datagram }
            guard ContinuousClock.now < deadline else {
                throw SystemTestError("no datagram on \(notifySocket) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// A datagram that has already arrived, or `nil`.
    func pending() throws -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemTestError("recv: \(String(cString: strerror(errno)))")
        }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
