#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Runs the command of an `execute_terminal_command` step: `/bin/sh -c` as the agent's user,
/// in its own process group, killed with that group on timeout or cancellation.
///
/// Spawned with `posix_spawn` and watched with `waitpid(WNOHANG)` rather than Foundation's
/// `Process`, which learns that a child ended when inherited pipes close: a command that
/// starts a background program (`xclip -i`, `app &`) keeps them open and the wait never ends.
/// For the same reason output goes to unlinked temporary files, not pipes: nobody has to keep
/// reading them, and a background program writing later neither blocks nor gets SIGPIPE.
struct TerminalCommand {
    struct Result: Sendable {
        /// The exit status, or 128 + the signal number when a signal ended the shell.
        var status: Int32
        /// At most ``outputLimit`` bytes of stdout.
        var stdout: [UInt8]
        var stdoutTruncated: Bool
        /// The last ``stderrTailLimit`` bytes of stderr, for error messages.
        var stderrTail: [UInt8]
        var timedOut: Bool
    }

    /// Stdout kept for `output_key` and the history (1 MiB, the largest string a step takes).
    static let outputLimit = 1 << 20
    static let stderrTailLimit = 2048

    var command: String
    var workingDirectory: String
    /// The complete environment of the shell.
    var environment: [String: String]
    var timeout: Duration

    /// Signals reset to their default in the child: the agent ignores some (SIGINT, SIGTERM
    /// while an action runs, SIGPIPE), and ignored signals would otherwise stay ignored in
    /// every command it runs.
    private static let defaultSignals = [
        SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU,
    ]

    /// The agent's environment with `HOME` and the configured variables.
    static func environment(home: String, extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home
        environment.merge(extra) { $1 }
        return environment
    }

    /// Runs the command to its end, its timeout, or the cancellation of the calling task
    /// (which kills the process group and throws `CancellationError`).
    func run() async throws -> Result {
        let stdoutFD = try Self.anonymousFile()
        defer { close(stdoutFD) }
        let stderrFD = try Self.anonymousFile()
        defer { close(stderrFD) }
        let pid = try spawn(stdout: stdoutFD, stderr: stderrFD)

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var interval = Duration.milliseconds(1)
        var status: Int32?
        var timedOut = false
        while status == nil {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                status = Self.exitStatus(raw)
                break
            }
            if result < 0, errno != EINTR {
                Self.killGroup(pid)
                throw TerminalCommandError.lostChild(errno: errno)
            }
            let now = clock.now
            if now >= deadline {
                timedOut = true
                status = Self.killGroup(pid)
                break
            }
            do {
                try await Task.sleep(for: min(interval, now.duration(to: deadline)))
            } catch {
                Self.killGroup(pid)
                throw CancellationError()
            }
            interval = min(interval * 2, .milliseconds(20))
        }
        let (stdout, truncated) = Self.head(of: stdoutFD, limit: Self.outputLimit)
        return Result(
            status: status ?? -1, stdout: stdout, stdoutTruncated: truncated,
            stderrTail: Self.tail(of: stderrFD, limit: Self.stderrTailLimit), timedOut: timedOut)
    }

    private func spawn(stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Self.defaultSignals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        // glibc here has no posix_spawn_file_actions_addchdir_np in Swift's view, so a first
        // shell changes directory and replaces itself with the command's shell (same process,
        // same group). "$2" keeps the command one argument, exactly as written.
        let arguments = [
            "/bin/sh", "-c", "cd -- \"$1\" || exit 126\nexec /bin/sh -c \"$2\"", "sh", workingDirectory, command,
        ]
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp)
        guard result == 0 else { throw TerminalCommandError.cannotStart(errno: result) }
        return pid
    }

    /// Kills the whole process group and reaps the shell; returns its status.
    @discardableResult
    private static func killGroup(_ pid: pid_t) -> Int32? {
        kill(-pid, SIGKILL)
        // SIGKILL ends the shell at once unless it is stuck in the kernel; do not wait forever.
        for _ in 0..<2000 {
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid { return exitStatus(raw) }
            if result < 0, errno != EINTR { return nil }
            usleep(1000)
        }
        return nil
    }

    /// WIFEXITED / WEXITSTATUS, and 128 + the signal otherwise, as a shell reports it.
    private static func exitStatus(_ raw: Int32) -> Int32 {
        raw & 0x7F == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
    }

    /// A file with no name, for output: nothing to clean up, whatever happens to the agent.
    private static func anonymousFile() throws -> Int32 {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        for _ in 0..<16 {
            let path = directory + "/.cyberdesk-command-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 {
                unlink(path)
                return fd
            }
            if errno != EEXIST { throw TerminalCommandError.cannotCreateOutputFile(directory: directory, errno: errno) }
        }
        throw TerminalCommandError.cannotCreateOutputFile(directory: directory, errno: EEXIST)
    }

    private static func head(of fd: Int32, limit: Int) -> ([UInt8], Bool) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return ([], false) }
        let size = Int(info.st_size)
        return (read(fd, from: 0, count: min(size, limit)), size > limit)
    }

    private static func tail(of fd: Int32, limit: Int) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return [] }
        let size = Int(info.st_size)
        return read(fd, from: max(0, size - limit), count: min(size, limit))
    }

    private static func read(_ fd: Int32, from offset: Int, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
            }
            if result < 0, errno == EINTR { continue }
            if result <= 0 { break }
            done += result
        }
        return Array(bytes[0..<done])
    }
}

/// The agent could not run a terminal command at all (not: the command failed).
enum TerminalCommandError: Error, CustomStringConvertible {
    case cannotStart(errno: Int32)
    case cannotCreateOutputFile(directory: String, errno: Int32)
    case lostChild(errno: Int32)

    var description: String {
        switch self {
        case .cannotStart(let code):
            return "cannot start /bin/sh: \(String(cString: strerror(code)))"
        case .cannotCreateOutputFile(let directory, let code):
            return "cannot create a file for the command's output in \(directory): \(String(cString: strerror(code)))"
        case .lostChild(let code):
            return "lost track of the command's process: \(String(cString: strerror(code)))"
        }
    }
}
