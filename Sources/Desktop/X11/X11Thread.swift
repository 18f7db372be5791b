import CX11
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A serial executor backed by one dedicated thread: the only thread that touches the
/// X11 `Display*`. When it has no jobs it waits in `poll()` on the X connection, so the
/// driver answers other clients (clipboard requests) between actions without a busy loop.
final class X11Thread: SerialExecutor, Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var threadID: pthread_t?
        var watchedFD: Int32 = -1
        var idleHandler: (@Sendable () -> Void)?
        var stopping = false
    }

    private let state = Mutex(State())
    /// Pipe used to wake the thread from poll() when a job arrives: [read end, write end].
    private let wakePipe: (read: Int32, write: Int32)

    init(name: String) {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakePipe = (fds[0], fds[1])
        let ready = Mutex(false)
        // A plain pthread rather than Foundation's Thread: the driver then needs no Foundation,
        // and a CLI process does not pay for loading it (libFoundation + ICU, ~several ms).
        let started = X11Thread.spawn { [self] in
            _ = cx11_set_current_thread_name(String(name.prefix(15)))
            self.state.withLock { $0.threadID = pthread_self() }
            ready.withLock { $0 = true }
            self.loop()
        }
        precondition(started, "cannot start the X11 thread: pthread_create failed")
        while !ready.withLock({ $0 }) { sched_yield() }
    }

    /// The closure handed to the new thread through pthread_create's `void *` argument.
    private final class ThreadBody: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Starts a detached thread running `body`; false if the system refused a new thread.
    private static func spawn(_ body: @escaping @Sendable () -> Void) -> Bool {
        let argument = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { argument in
                guard let argument else { return nil }
                Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue().run()
                return nil
            }, argument)
        if status != 0 {
            Unmanaged<ThreadBody>.fromOpaque(argument).release()
            return false
        }
        return true
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        wake()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func isIsolatingCurrentContext() -> Bool? {
        guard let owner = state.withLock({ $0.threadID }) else { return false }
        return pthread_equal(owner, pthread_self()) != 0
    }

    func checkIsolated() {
        precondition(isIsolatingCurrentContext() == true, "X11 state touched off the X11 thread")
    }

    /// Watch `fd` (the X connection) while idle and call `handler` on this thread whenever
    /// it may have input, and after each batch of jobs.
    func watch(fd: Int32, handler: @escaping @Sendable () -> Void) {
        state.withLock {
            $0.watchedFD = fd
            $0.idleHandler = handler
        }
        wake()
    }

    /// Ends the thread after the jobs already queued have run.
    func stop() {
        state.withLock {
            $0.stopping = true
            $0.idleHandler = nil
            $0.watchedFD = -1
        }
        wake()
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakePipe.write, &one, 1)
    }

    private func loop() {
        while true {
            let jobs = state.withLock { state in
                let jobs = state.jobs
                state.jobs.removeAll(keepingCapacity: true)
                return jobs
            }
            for job in jobs {
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
            // Read after the jobs ran: one of them may have closed the display.
            let (handler, fd, stopping) = state.withLock { ($0.idleHandler, $0.watchedFD, $0.stopping) }
            if !jobs.isEmpty {
                handler?()
                continue
            }
            if stopping {
                close(wakePipe.read)
                close(wakePipe.write)
                return
            }
            handler?()
            var fds = [pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
            if fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            _ = poll(&fds, nfds_t(fds.count), -1)
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakePipe.read, &drain, drain.count) > 0 {}
        }
    }
}
