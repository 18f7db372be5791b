import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A pseudoterminal pair from posix_openpt(3): the terminal end is what a program sees as
/// its tty (isatty(3) is true), and what it writes there is read back from the other end.
/// Output processing is switched off (raw mode) so the bytes arrive exactly as written.
final class TestPseudoterminal {
    /// The controlling side, read by the test.
    let controller: Int32
    /// The terminal side, given to the code under test as its stderr.
    let terminal: Int32

    init() throws {
        let pty = try PosixPTY.load()
        controller = pty.openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard controller >= 0 else { throw SystemTestError("posix_openpt: \(Self.reason())") }
        guard pty.grantpt(controller) == 0, pty.unlockpt(controller) == 0 else {
            close(controller)
            throw SystemTestError("grantpt/unlockpt: \(Self.reason())")
        }
        var name = [CChar](repeating: 0, count: 128)
        guard pty.ptsname(controller, &name, name.count) == 0 else {
            close(controller)
            throw SystemTestError("ptsname_r: \(Self.reason())")
        }
        terminal = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard terminal >= 0 else {
            close(controller)
            throw SystemTestError("open pty: \(Self.reason())")
        }
        var settings = termios()
        tcgetattr(terminal, &settings)
        cfmakeraw(&settings)
        tcsetattr(terminal, TCSANOW, &settings)
        _ = fcntl(controller, F_SETFL, fcntl(controller, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(terminal)
        close(controller)
    }

    private static func reason() -> String {
        String(cString: strerror(errno))
    }

    /// posix_openpt(3) and friends, looked up in libc at run time: Swift's Glibc module
    /// leaves them out because glibc declares them only for `_XOPEN_SOURCE`.
    private struct PosixPTY {
        var openpt: @convention(c) (Int32) -> Int32
        var grantpt: @convention(c) (Int32) -> Int32
        var unlockpt: @convention(c) (Int32) -> Int32
        var ptsname: @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32

        static func load() throws -> PosixPTY {
            let libc = dlopen(nil, RTLD_NOW)
            func symbol<T>(_ name: String, as type: T.Type) throws -> T {
                guard let address = dlsym(libc, name) else { throw SystemTestError("\(name) not found in libc") }
                return unsafeBitCast(address, to: type)
            }
            return PosixPTY(
                openpt: try symbol("posix_openpt", as: (@convention(c) (Int32) -> Int32).self),
                grantpt: try symbol("grantpt", as: (@convention(c) (Int32) -> Int32).self),
                unlockpt: try symbol("unlockpt", as: (@convention(c) (Int32) -> Int32).self),
                ptsname: try symbol(
                    "ptsname_r", as: (@convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32).self))
        }
    }

    /// What was written to the terminal, up to and including the first newline.
    func readLine(timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while !bytes.contains(UInt8(ascii: "\n")) {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { read(controller, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += buffer[0..<count]
                continue
            }
            guard ContinuousClock.now < deadline else { throw SystemTestError("no line on the pty within \(timeout)") }
            try await Task.sleep(for: .milliseconds(2))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
