import Foundation
import Synchronization

/// A private Xvfb for one test, on a display number it picks itself (`-displayfd`).
/// Processes are started with posix_spawn and killed with the server.
public final class XvfbServer: Sendable {
    public let display: String
    public let pid: pid_t
    private let children = Mutex<[pid_t]>([])

    public static let isAvailable: Bool = {
        if ProcessInfo.processInfo.environment["CYBERDESK_REQUIRE_XVFB"] == "1" { return true }
        return executable("Xvfb") != nil
    }()

    public static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `arguments` are extra Xvfb options (for example `-extension XTEST` to test without XTest).
    public init(width: Int = 1280, height: Int = 800, arguments extra: [String] = []) throws {
        guard let xvfb = Self.executable("Xvfb") else {
            throw TestFailure("Xvfb is not installed: run scripts/install-deps")
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestFailure("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments =
            [
                xvfb, "-displayfd", "3", "-screen", "0", "\(width)x\(height)x24", "-nolisten", "tcp", "-noreset",
            ] + extra
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, xvfb, &actions, nil, argv, environ)
        close(fds[1])
        guard spawned == 0 else {
            close(fds[0])
            throw TestFailure("cannot start Xvfb: errno \(spawned)")
        }
        var number = ""
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) == 1, byte != 0x0A { number.append(Character(Unicode.Scalar(byte))) }
        close(fds[0])
        guard !number.isEmpty else { throw TestFailure("Xvfb exited before reporting its display") }
        display = ":" + number
        pid = child
    }

    deinit {
        for child in children.withLock({ $0 }) { kill(child, SIGKILL) }
        kill(pid, SIGKILL)
    }

    /// Starts an X client on this display; it is killed with the server.
    @discardableResult
    public func launch(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
        -> ChildProcess
    {
        guard let path = executable.hasPrefix("/") ? executable : Self.executable(executable) else {
            throw TestFailure("\(executable) is not installed: run scripts/install-deps")
        }
        let child = try ChildProcess(path, arguments, environment: environment.merging(["DISPLAY": display]) { $1 })
        children.withLock { $0.append(child.pid) }
        return child
    }

    /// Runs a command on this display to completion and returns its output.
    public func run(_ executable: String, _ arguments: [String], input: Data? = nil) async throws -> (
        status: Int32, stdout: Data, stderr: String
    ) {
        try await runProcess(executable, arguments, environment: ["DISPLAY": display], input: input)
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a process to completion without blocking a thread of the test's executor.
///
/// It uses posix_spawn and waitpid rather than Foundation's `Process`, which learns that a
/// child exited when a socket inherited by the child closes: a child that forks a daemon
/// (`xclip -i`, `cyberdesk-agent clipboard set`) keeps that socket open, and the wait never
/// ends. Output goes to files for the same reason.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:],
    input: Data? = nil
) async throws -> (status: Int32, stdout: Data, stderr: String) {
    guard let path = executable.hasPrefix("/") ? executable : XvfbServer.executable(executable) else {
        throw TestFailure("\(executable) is not installed: run scripts/install-deps")
    }
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("cyberdesk-test-\(UUID().uuidString)")
    let files = ["in", "out", "err"].map { base.appendingPathExtension($0).path }
    defer { for file in files { try? FileManager.default.removeItem(atPath: file) } }
    _ = FileManager.default.createFile(atPath: files[0], contents: input ?? Data())
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, files[0], O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, files[1], O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, files[2], O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for pointer in argv + envp { free(pointer) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard spawned == 0 else { throw TestFailure("cannot start \(path): errno \(spawned)") }
    let child = pid
    let status: Int32 = await withCheckedContinuation { continuation in
        Thread {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            // WIFEXITED / WEXITSTATUS, and 128 + signal otherwise (as a shell reports it).
            continuation.resume(returning: status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
        }.start()
    }
    let out = FileManager.default.contents(atPath: files[1]) ?? Data()
    let err = String(decoding: FileManager.default.contents(atPath: files[2]) ?? Data(), as: UTF8.self)
    return (status, out, err)
}

/// Polls `condition` until it holds or `timeout` passes; no fixed sleeps in tests.
public func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
