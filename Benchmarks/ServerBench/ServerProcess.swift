import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real `cyberdesk-server` binary as a child process, started with posix_spawn
/// (Foundation's Process hangs when children fork), its output appended to a log file.
final class ServerProcess: @unchecked Sendable {
    let pid: pid_t
    let port: Int
    let logPath: String
    let arguments: [String]

    private init(pid: pid_t, port: Int, logPath: String, arguments: [String]) {
        self.pid = pid
        self.port = port
        self.logPath = logPath
        self.arguments = arguments
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `binary serve` and waits for its "listening on" line (which gives the port
    /// when `port` is 0).
    static func start(
        binary: String, dataDir: String, port: Int, database: String?, logLevel: String, logPath: String
    ) throws -> ServerProcess {
        var arguments = [
            binary, "serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir, "--log-level",
            logLevel, "--no-dashboard",
        ]
        if let database { arguments += ["--database", database] }
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StartError(description: "cannot open \(logPath): errno \(errno)") }
        defer { close(fd) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, 1)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, binary, &actions, nil, &argv, environ)
        guard status == 0 else { throw StartError(description: "posix_spawn \(binary): error \(status)") }
        // Wait for the "listening" line (the first start also runs migrations and writes keys).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: logPath, encoding: .utf8),
                let range = text.range(of: "cyberdesk-server listening on http://127.0.0.1:")
            {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let actual = Int(digits) {
                    return ServerProcess(pid: pid, port: actual, logPath: logPath, arguments: arguments)
                }
            }
            var exitStatus: Int32 = 0
            if waitpid(pid, &exitStatus, WNOHANG) == pid {
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw StartError(description: "cyberdesk-server exited at start (status \(exitStatus)):\n\(text)")
            }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        throw StartError(description: "cyberdesk-server did not report listening within 60 s; see \(logPath)")
    }

    /// Sends the signal and reaps the process.
    func stop(signal: Int32 = SIGTERM, timeout: Double = 20) {
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// VmRSS and VmHWM in KiB from /proc/PID/status.
    func memory() -> (rss: Int, hwm: Int) { Self.memory(of: pid) }

    static func memory(of pid: pid_t) -> (rss: Int, hwm: Int) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// User + system CPU seconds so far.
    func cpuSeconds() -> Double { Self.cpuSeconds(of: pid) }

    static func cpuSeconds(of pid: pid_t) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// The host's load average (1, 5, 15 minutes).
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3)
        .joined(separator: " ")
}

/// Raises the open-file limit as far as allowed: each simulated agent holds one or two
/// sockets, the server one per agent, and the server child inherits the limit.
func raiseFileLimit(wanted: Int) -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    // Root may raise the hard limit too (up to fs.nr_open); otherwise the soft limit goes up
    // to the hard one.
    var raised = rlimit(rlim_cur: rlim_t(wanted), rlim_max: max(limit.rlim_max, rlim_t(wanted)))
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
        raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
    }
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    return Int(limit.rlim_cur)
}
