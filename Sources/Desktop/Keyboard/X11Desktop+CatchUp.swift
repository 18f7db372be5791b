import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// The X client that receives key events, as far as the driver can ask it whether it has
/// processed them (README, "Typing into lagging applications").
struct KeyboardClient: Equatable, Sendable {
    /// The client's top-level window (the one a window manager would ping).
    var window: Window
    /// `_NET_WM_PING` is in its `WM_PROTOCOLS`: GTK, Qt, Java AWT, Chromium/Electron, Firefox, Wine.
    var answersPing: Bool
    /// Its process on this machine (`_NET_WM_PID` with a matching `WM_CLIENT_MACHINE`), whose
    /// main thread can be watched going idle when it answers no ping (xterm, Xt, Tk).
    var pid: Int32?
}

extension X11Desktop {
    // MARK: - Who receives the keys

    /// Remembers the client that has the keyboard focus as one that received key events on
    /// borrowed keycodes; asked once per action, at its first borrowed key.
    func noteScratchReceiver() {
        guard !scratchReceiverNoted else { return }
        scratchReceiverNoted = true
        guard let client = focusedClient() else { return }
        if !scratchReceivers.contains(client) { scratchReceivers.append(client) }
    }

    /// The client whose window has the focus (or is under the pointer with PointerRoot focus,
    /// the rule without a window manager), nil when key events go nowhere.
    func focusedClient() -> KeyboardClient? {
        var focus: Window = 0
        var revert: Int32 = 0
        XGetInputFocus(display, &focus, &revert)
        var top: Window = 0
        if focus == Window(PointerRoot) {
            var rootReturn: Window = 0
            var child: Window = 0
            var rx: Int32 = 0
            var ry: Int32 = 0
            var wx: Int32 = 0
            var wy: Int32 = 0
            var mask: UInt32 = 0
            XQueryPointer(display, root, &rootReturn, &child, &rx, &ry, &wx, &wy, &mask)
            top = child
        } else if focus != 0, focus != root {
            top = topLevel(of: focus)
        }
        defer {
            // A window may vanish while it is looked at; that is no error of the action's.
            XSync(display, 0)
            _ = X11Errors.take(display)
        }
        guard top != 0 else { return nil }
        let client = clientWindow(in: top)
        return KeyboardClient(window: client, answersPing: answersPing(client), pid: localPID(of: client))
    }

    private func topLevel(of window: Window) -> Window {
        var current = window
        for _ in 0..<64 {
            var rootReturn: Window = 0
            var parent: Window = 0
            var children: UnsafeMutablePointer<Window>?
            var count: UInt32 = 0
            guard XQueryTree(display, current, &rootReturn, &parent, &children, &count) != 0 else { return current }
            if let children { XFree(children) }
            if parent == root || parent == 0 { return current }
            current = parent
        }
        return current
    }

    /// The window holding `WM_STATE` at or below a top-level (a window manager's frame holds
    /// the client's window); the top-level itself when there is none (no window manager).
    private func clientWindow(in top: Window) -> Window {
        let wmState = XInternAtom(display, "WM_STATE", 1)
        guard wmState != 0 else { return top }
        var level = [top]
        for _ in 0..<3 {
            var next: [Window] = []
            for window in level {
                if hasProperty(window, wmState) { return window }
                var rootReturn: Window = 0
                var parent: Window = 0
                var children: UnsafeMutablePointer<Window>?
                var count: UInt32 = 0
                guard XQueryTree(display, window, &rootReturn, &parent, &children, &count) != 0 else { continue }
                if let children {
                    next += UnsafeBufferPointer(start: children, count: Int(count))
                    XFree(children)
                }
            }
            level = next
        }
        return top
    }

    private func hasProperty(_ window: Window, _ atom: Atom) -> Bool {
        var type: Atom = 0
        var format: Int32 = 0
        var count: UInt = 0
        var remaining: UInt = 0
        var data: UnsafeMutablePointer<UInt8>?
        XGetWindowProperty(
            display, window, atom, 0, 0, 0, Atom(AnyPropertyType), &type, &format, &count, &remaining, &data)
        if let data { XFree(data) }
        return type != 0
    }

    private func answersPing(_ window: Window) -> Bool {
        var protocols: UnsafeMutablePointer<Atom>?
        var count: Int32 = 0
        guard XGetWMProtocols(display, window, &protocols, &count) != 0, let protocols else { return false }
        defer { XFree(protocols) }
        return UnsafeBufferPointer(start: protocols, count: Int(count)).contains(atoms.netWMPing)
    }

    /// `_NET_WM_PID` when the window's client runs on this machine and its process exists.
    private func localPID(of window: Window) -> Int32? {
        let pidAtom = XInternAtom(display, "_NET_WM_PID", 1)
        guard pidAtom != 0 else { return nil }
        var type: Atom = 0
        var format: Int32 = 0
        var count: UInt = 0
        var remaining: UInt = 0
        var data: UnsafeMutablePointer<UInt8>?
        XGetWindowProperty(
            display, window, pidAtom, 0, 1, 0, Atom(XA_CARDINAL), &type, &format, &count, &remaining, &data)
        guard let data else { return nil }
        defer { XFree(data) }
        guard format == 32, count == 1 else { return nil }
        // Format-32 properties come back as C longs.
        let pid = UnsafeRawPointer(data).load(as: Int.self)
        guard pid > 0, pid <= Int(Int32.max) else { return nil }
        var machine = XTextProperty()
        if XGetWMClientMachine(display, window, &machine) != 0, let value = machine.value {
            defer { XFree(value) }
            let name = String(decoding: UnsafeBufferPointer(start: value, count: Int(machine.nitems)), as: UTF8.self)
            var host = [CChar](repeating: 0, count: 256)
            gethostname(&host, host.count - 1)
            guard name == String(cString: host) else { return nil }
        }
        return ProcessActivity.sample(Int32(pid)) == nil ? nil : Int32(pid)
    }

    // MARK: - Waiting for them

    /// Waits until every client that received key events on borrowed keycodes has processed
    /// them, or `deadline`: a pong to `_NET_WM_PING` (sent after the key events, so answered
    /// after them), else the client's process seen idle, else the fixed grace after the last
    /// key event. Afterwards the borrowed keycodes may change.
    ///
    /// With `cancellable` (a remap within an action) a cancelled task stops waiting at once
    /// and nothing is confirmed: the action ends without typing more. Restores are not
    /// cancellable, as they protect text already typed.
    func catchUp(deadline: ContinuousClock.Instant, cancellable: Bool = false) async {
        guard scratch.needsConfirmation else { return }
        catchUpCancellable = cancellable
        defer { catchUpCancellable = false }
        XSync(display, 0)
        let clients = scratchReceivers
        let pinged = clients.filter(\.answersPing)
        var answered: [Window] = []
        if !pinged.isEmpty { answered = await ping(pinged.map(\.window), deadline: deadline) }
        for client in clients where !answered.contains(client.window) {
            if let pid = client.pid, await waitForIdle(pid, deadline: deadline) {
                continue
            }
            await waitForGrace(deadline: deadline)
        }
        if clients.isEmpty { await waitForGrace(deadline: deadline) }
        if cancellable, Task.isCancelled { return }
        // The next borrowed key notes the focused client again, also within this action.
        scratchReceivers.removeAll()
        scratchReceiverNoted = false
        scratch.confirmed()
        catchUps += 1
    }

    private func waitForGrace(deadline: ContinuousClock.Instant) async {
        guard let last = scratch.lastKeyEvent else { return }
        let end = min(last.advanced(by: configuration.scratchGrace), deadline)
        while !passed(end) { await pause(end - .now) }
    }

    /// Sends `_NET_WM_PING` to each window and returns those that answered by `deadline`.
    /// The answer is a ClientMessage the client sends to the root window for the window
    /// manager (SubstructureRedirect | SubstructureNotify); selecting SubstructureNotify on
    /// the root, which any number of clients may do, delivers it here too.
    private func ping(_ windows: [Window], deadline: ContinuousClock.Instant) async -> [Window] {
        XSelectInput(display, root, SubstructureNotifyMask)
        defer {
            XSelectInput(display, root, NoEventMask)
            XFlush(display)
        }
        var stamps: [Int: Window] = [:]
        for window in windows {
            pingStamp += 1
            stamps[pingStamp] = window
            var event = XEvent()
            event.xclient.type = ClientMessage
            event.xclient.window = window
            event.xclient.message_type = atoms.wmProtocols
            event.xclient.format = 32
            event.xclient.data.l = (Int(atoms.netWMPing), pingStamp, Int(window), 0, 0)
            XSendEvent(display, window, 0, NoEventMask, &event)
        }
        XFlush(display)
        while true {
            dispatchPendingEvents()
            let answered = stamps.filter { pongs.contains($0.key) }
            if answered.count == stamps.count || passed(deadline) {
                pongs.subtract(stamps.keys)
                return Array(answered.values)
            }
            await pause(.milliseconds(1))
        }
    }

    /// Records a pong (`_NET_WM_PING` sent back to the root window) for `ping`.
    func receivedClientMessage(_ event: XClientMessageEvent) {
        guard event.message_type == atoms.wmProtocols, event.format == 32, event.data.l.0 == Int(atoms.netWMPing),
            event.window == root
        else { return }
        pongs.insert(event.data.l.1)
    }

    /// True once the client's main thread has slept for `ProcessActivity.quiet` without
    /// running, false at `deadline`. A process that has exited has nothing left to process.
    ///
    /// A client also sleeps while it waits for the X server: for the reply to a round trip
    /// (Xlib fetches the changed keymap that way) or to write requests to a full socket. A
    /// starved server can leave it so for longer than any fixed window, with key events still
    /// queued. So between two looks the driver makes its own round trip: once the server has
    /// answered it, it has served the client's earlier request too, which wakes the client
    /// (it runs, or at least leaves state S) before the next look.
    private func waitForIdle(_ pid: Int32, deadline: ContinuousClock.Instant) async -> Bool {
        var asleepSince: (instant: ContinuousClock.Instant, runtime: UInt64)?
        var roundTrips = 0
        while true {
            guard let now = ProcessActivity.sample(pid) else { return true }
            if now.sleeping, let since = asleepSince, since.runtime == now.runtime {
                if roundTrips >= 2, ContinuousClock.now - since.instant >= ProcessActivity.quiet { return true }
            } else if now.sleeping {
                asleepSince = (.now, now.runtime)
                roundTrips = 0
            } else {
                asleepSince = nil
            }
            if passed(deadline) { return false }
            XSync(display, 0)
            if asleepSince != nil { roundTrips += 1 }
            await pause(.milliseconds(5))
        }
    }

    /// The deadline has passed, or the wait may end early because the task was cancelled.
    private func passed(_ deadline: ContinuousClock.Instant) -> Bool {
        ContinuousClock.now >= deadline || (catchUpCancellable && Task.isCancelled)
    }

    /// Sleeps without giving up when the task is cancelled: the waits here protect the text
    /// already typed, and exit paths run them from cancelled tasks.
    func pause(_ duration: Duration) async {
        let step = min(duration, .milliseconds(5))
        guard step > .zero else { return }
        if !Task.isCancelled, (try? await Task.sleep(for: step)) != nil { return }
        let (_, attoseconds) = step.components
        var request = timespec(tv_sec: 0, tv_nsec: Int(attoseconds / 1_000_000_000))
        nanosleep(&request, nil)
    }
}

/// Watches a client's main thread in /proc: blocked in the kernel (state S) and not run at all
/// for a while means it sleeps in poll() with nothing left to read or translate. Most X
/// programs handle X events on their main thread (Xt, Xaw, Motif, Tk, SDL, xterm).
enum ProcessActivity {
    struct Sample: Equatable {
        var sleeping: Bool
        /// CPU time of the thread (ns from schedstat, else clock ticks from stat).
        var runtime: UInt64
    }

    /// How long the thread must stay asleep without running (with the driver's own round
    /// trips to the server in between, `waitForIdle`).
    static let quiet: Duration = .milliseconds(50)

    static func sample(_ pid: Int32) -> Sample? {
        guard let stat = read("/proc/\(pid)/task/\(pid)/stat") else { return nil }
        // The command name is in parentheses and may hold spaces; fields follow the last ')'.
        guard let end = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(end + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 13, let state = fields[0].first else { return nil }
        var runtime: UInt64
        if let schedstat = read("/proc/\(pid)/task/\(pid)/schedstat"),
            let first = schedstat.split(separator: UInt8(ascii: " ")).first,
            let ns = UInt64(String(decoding: first, as: UTF8.self))
        {
            runtime = ns
        } else {
            // utime + stime (fields 14 and 15 of stat; 12 and 13 after the state).
            runtime =
                (UInt64(String(decoding: fields[11], as: UTF8.self)) ?? 0)
                + (UInt64(String(decoding: fields[12], as: UTF8.self)) ?? 0)
        }
        if state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") { return nil }
        return Sample(sleeping: state == UInt8(ascii: "S"), runtime: runtime)
    }

    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return Array(buffer.prefix(count))
    }
}
