import Foundation
import Synchronization

/// A long-running child (the agent daemon) started with posix_spawn, its stderr in a file,
/// stopped with a signal and reaped with waitpid on a thread of its own.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let stderrPath: String
    /// The exit status once reaped: no signal goes to the pid after that (it may be reused).
    private let status = Mutex<Int32?>(nil)

    public init(_ path: String, _ arguments: [String], environment: [String: String]) throws {
        stderrPath =
            FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        env["JOURNAL_STREAM"] = nil
        env["NOTIFY_SOCKET"] = nil
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw TestFailure("cannot start \(path): errno \(spawned)") }
        pid = child
    }

    public var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) {
        status.withLock { if $0 == nil { _ = kill(pid, number) } }
    }

    /// The exit status (128 + signal when killed) if the child has exited, without waiting.
    public var exitStatus: Int32? {
        status.withLock { known in
            if known == nil {
                var raw: Int32 = 0
                if waitpid(pid, &raw, WNOHANG) == pid { known = Self.decode(raw) }
            }
            return known
        }
    }

    /// Waits for the child to exit; its exit status (128 + signal when killed).
    public func wait() async -> Int32 {
        if let known = exitStatus { return known }
        let child = pid
        let reaped = await withCheckedContinuation { continuation in
            Thread {
                var raw: Int32 = 0
                while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
                continuation.resume(returning: Self.decode(raw))
            }.start()
        }
        return status.withLock { known in
            if known == nil { known = reaped }
            return known ?? reaped
        }
    }

    static func decode(_ raw: Int32) -> Int32 { raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F) }

}

/// The built `cyberdesk-agent` next to the test bundle.
public var agentExecutable: String { builtExecutable("cyberdesk-agent") }

/// The built `cyberdesk-server` next to the test bundle.
public var serverExecutable: String { builtExecutable("cyberdesk-server") }

/// A product of this package, built next to the test bundle.
public func builtExecutable(_ name: String) -> String {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundleDir, bundleDir.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return bundleDir.appendingPathComponent(name).path
}
