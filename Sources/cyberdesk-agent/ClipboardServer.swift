#if canImport(Glibc)
    import Glibc
#endif

/// The background `clipboard serve` process started by `clipboard set`, with the parent's ends
/// of its standard input (the text) and standard output (the "ready" line).
///
/// Started with posix_spawn rather than Foundation's `Process`, so the executable does not
/// link libFoundation (and ICU) just for this command.
struct ClipboardServer {
    var pid: Int32
    /// Write end of the server's standard input; close it after writing the text.
    var input: Int32
    /// Read end of the server's standard output.
    var ready: Int32

    static func start(display: String?) throws(POSIXIOError) -> ClipboardServer {
        // This same executable: argv[0] when it names a path, else the kernel's link to it.
        let argv0 = CommandLine.arguments[0]
        let executable = argv0.contains("/") && access(argv0, X_OK) == 0 ? argv0 : "/proc/self/exe"
        let arguments = [executable, "clipboard", "serve"] + (display.map { ["--display", $0] } ?? [])

        var inputPipe: [Int32] = [-1, -1]
        var readyPipe: [Int32] = [-1, -1]
        guard pipe(&inputPipe) == 0 else { throw POSIXIOError(code: errno) }
        guard pipe(&readyPipe) == 0 else {
            let code = errno
            for fd in inputPipe { close(fd) }
            throw POSIXIOError(code: code)
        }
        // Only the dup2'd copies reach the server; the originals close on exec.
        for fd in inputPipe + readyPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inputPipe[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, readyPipe[1], STDOUT_FILENO)

        // This runs on a Swift concurrency thread, whose signal mask blocks most signals; the
        // server must start with none blocked and default handlers for SIGINT, SIGTERM, SIGPIPE.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        var defaults = sigset_t()
        sigemptyset(&noSignals)
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, &cArguments, environ)
        close(inputPipe[0])
        close(readyPipe[1])
        guard status == 0 else {
            close(inputPipe[1])
            close(readyPipe[0])
            throw POSIXIOError(code: status)
        }
        return ClipboardServer(pid: pid, input: inputPipe[1], ready: readyPipe[0])
    }
}
