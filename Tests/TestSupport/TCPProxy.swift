import Foundation
import Synchronization

/// A TCP proxy on 127.0.0.1 that a test controls, to put a network fault between an agent
/// and its server: `pass` forwards bytes both ways, `stall` accepts connections but holds
/// every byte (nothing is read, so nothing is lost: `pass` delivers it later), `refuse`
/// resets new connections at once; `dropAll()` resets every open connection.
///
/// Plain sockets and one thread per connection: the proxy must keep working while the
/// test's async tasks wait, and the volumes are tiny.
public final class TCPProxy: Sendable {
    public enum Mode: Sendable { case pass, stall, refuse }

    struct State {
        var mode: Mode = .pass
        /// Connections opened before this generation are reset.
        var dropGeneration = 0
        var generation = 0
        var closed = false
        var open = 0
        var accepted = 0
    }

    public let port: Int
    let upstreamPort: Int
    let listener: Int32
    let state = Mutex(State())

    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("proxy: socket failed, errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TestFailure("proxy: bind/listen failed, errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        let proxy = self
        Thread { proxy.acceptLoop() }.start()
    }

    deinit { close(listener) }

    public var url: String { "http://127.0.0.1:\(port)" }

    public var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }

    /// Connections accepted so far (to see that a client came back).
    public var accepted: Int { state.withLock { $0.accepted } }

    /// Resets every open connection (the peers see ECONNRESET).
    public func dropAll() {
        state.withLock { $0.dropGeneration = $0.generation + 1 }
    }

    /// An outage: open connections are reset and new ones refused until `mode = .pass`.
    public func cut() {
        mode = .refuse
        dropAll()
    }

    /// Stops accepting and resets everything.
    public func stop() {
        state.withLock {
            $0.closed = true
            $0.dropGeneration = $0.generation + 1
        }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    func acceptLoop() {
        while !state.withLock({ $0.closed }) {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let (mode, generation) = state.withLock { state -> (Mode, Int) in
                state.accepted += 1
                state.generation += 1
                return (state.mode, state.generation)
            }
            if mode == .refuse {
                Self.reset(client)
                continue
            }
            let proxy = self
            Thread { proxy.serve(client: client, generation: generation) }.start()
        }
    }

    /// Forwards one connection until either side closes or the connection is dropped.
    func serve(client: Int32, generation: Int) {
        state.withLock { $0.open += 1 }
        defer { state.withLock { $0.open -= 1 } }
        // A stalled proxy accepts but does not even reach the server yet.
        while state.withLock({ $0.mode == .stall && $0.dropGeneration < generation }) { usleep(20_000) }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: UInt16(upstreamPort))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard upstream >= 0, connected == 0 else {
            if upstream >= 0 { close(upstream) }
            Self.reset(client)
            return
        }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        loop: while true {
            let (mode, dropped) = state.withLock { ($0.mode, $0.dropGeneration >= generation) }
            if dropped { break }
            if mode == .stall {
                usleep(20_000)
                continue
            }
            var fds = [
                pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                pollfd(fd: upstream, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, 50) > 0 else { continue }
            for (index, pfd) in fds.enumerated() where pfd.revents != 0 {
                let from = index == 0 ? client : upstream
                let to = index == 0 ? upstream : client
                let count = read(from, &buffer, buffer.count)
                if count <= 0 { break loop }
                var sent = 0
                while sent < count {
                    let written = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, count - sent) }
                    if written <= 0 { break loop }
                    sent += written
                }
            }
        }
        Self.reset(client)
        Self.reset(upstream)
    }
}
