import CX11
import CXKBCommon
import Desktop
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Captures every key, button and motion event of an X display with the RECORD extension
/// (libXtst), which sees real devices and XTest input alike (VNC servers, xdotool, tests).
///
/// RECORD needs two connections: the data connection the context is enabled on, which only
/// receives, and a control connection for everything else. Both belong to one thread started
/// here, which also resolves keys (`KeyResolver`, on the control connection) so each event is
/// read with the keymap of its moment.
///
/// Xvfb writes recorded data out only when it flushes clients for another reason, so the
/// thread asks the control connection for a round trip (`XSync`) every `tick` (20 ms): events
/// reach the recorder at most one tick late. On stop, the data still queued is read before
/// the context is disabled. A tick hands over a batch with the local time it was read at (the
/// recorder's clock for crops and time-outs) when it holds events, when the recorder asked for
/// every tick (a step waits for a time-out: `deliverEveryTick`), or else every `idleInterval`:
/// an idle recorder is woken five times a second, not fifty (BENCHMARKS.md, "Recorder").
final class InputCapture: Sendable {
    /// One tick's worth of events.
    struct Batch: Sendable {
        var inputs: [RecordedInput]
        /// Local monotonic milliseconds when the batch was read.
        var localTime: Int64
        /// The earliest local read time minus the server time of any event in the batch: an
        /// upper bound of (local clock − server clock) (nil without events).
        var clockOffset: Int64?
        /// The server has started recording (its StartOfData arrived): input from now on is seen.
        var started: Bool
    }

    /// Set by `stop()` and `deliverEveryTick`, read by the capture thread each tick.
    private final class Flags: Sendable {
        let stopRaised = Atomic(false)
        let everyTick = Atomic(true)
    }

    private let flags = Flags()
    private let wakePipe: (read: Int32, write: Int32)

    /// Opens both connections and enables recording; `deliver` is called on the capture
    /// thread with every batch, and once more with `nil` when the capture has ended.
    init(
        displayName: String, tick: Duration = .milliseconds(20), idleInterval: Duration = .milliseconds(100),
        deliver: @escaping @Sendable (Batch?) -> Void
    ) throws(RecorderError) {
        guard let control = XOpenDisplay(displayName) else { throw .cannotOpenDisplay(displayName) }
        guard let data = XOpenDisplay(displayName) else {
            XCloseDisplay(control)
            throw .cannotOpenDisplay(displayName)
        }
        var major: Int32 = 0
        var minor: Int32 = 0
        guard XRecordQueryVersion(control, &major, &minor) != 0 else {
            XCloseDisplay(data)
            XCloseDisplay(control)
            throw .recordExtensionMissing(displayName)
        }
        let resolver: KeyResolver
        do {
            resolver = try KeyResolver(display: control)
        } catch {
            XCloseDisplay(data)
            XCloseDisplay(control)
            throw error
        }
        // Keymap and layout changes (setxkbmap, xmodmap, a layout switch applet).
        XkbSelectEvents(
            control, UInt32(XkbUseCoreKbd), UInt32(XkbNewKeyboardNotifyMask | XkbMapNotifyMask),
            UInt32(XkbNewKeyboardNotifyMask | XkbMapNotifyMask))
        guard let range = XRecordAllocRange() else {
            XCloseDisplay(data)
            XCloseDisplay(control)
            throw .recordFailed("XRecordAllocRange failed")
        }
        range.pointee.device_events.first = UInt8(KeyPress)
        range.pointee.device_events.last = UInt8(MotionNotify)
        // Keymap changes by any client, in order with the key events: a typing client (the
        // agent, xdotool) maps a character onto a spare keycode, presses it and may clear it
        // again before this thread reads either; the keymap read afterwards no longer says
        // what that key meant (`KeyResolver.applyCoreMapping`).
        range.pointee.core_requests.first = RecordSink.changeKeyboardMapping
        range.pointee.core_requests.last = RecordSink.changeKeyboardMapping
        var clients: [XRecordClientSpec] = [XRecordClientSpec(XRecordAllClients)]
        var ranges: [UnsafeMutablePointer<XRecordRange>?] = [range]
        let context = XRecordCreateContext(control, 0, &clients, 1, &ranges, 1)
        XFree(range)
        XSync(control, 0)
        guard context != 0 else {
            XCloseDisplay(data)
            XCloseDisplay(control)
            throw .recordFailed("the X server refused to create a RECORD context")
        }
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakePipe = (fds[0], fds[1])
        let sink = RecordSink(resolver: resolver)
        let closure = Unmanaged.passRetained(sink)
        let enabled = XRecordEnableContextAsync(
            data, context,
            { closure, recorded in
                guard let closure, let recorded else { return }
                Unmanaged<RecordSink>.fromOpaque(UnsafeRawPointer(closure)).takeUnretainedValue().take(recorded)
            }, UnsafeMutableRawPointer(closure.toOpaque()).assumingMemoryBound(to: CChar.self))
        guard enabled != 0 else {
            closure.release()
            XRecordFreeContext(control, context)
            XCloseDisplay(data)
            XCloseDisplay(control)
            throw .recordFailed("the X server refused to enable the RECORD context")
        }
        let loop = CaptureLoop(
            control: control, data: data, context: context, sink: closure,
            tickMilliseconds: Int32(Self.milliseconds(tick)), idleMilliseconds: Self.milliseconds(idleInterval),
            wakeFD: wakePipe.read, deliver: deliver)
        let capture = Unmanaged.passRetained(
            Runner { [flags] in
                loop.run(
                    stopping: { flags.stopRaised.load(ordering: .acquiring) },
                    everyTick: { flags.everyTick.load(ordering: .relaxed) })
            })
        var thread = pthread_t()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let status = pthread_create(
            &thread, &attributes,
            { argument in
                guard let argument else { return nil }
                _ = cx11_set_current_thread_name("cyberdesk-record")
                Unmanaged<Runner>.fromOpaque(argument).takeRetainedValue().body()
                return nil
            }, capture.toOpaque())
        pthread_attr_destroy(&attributes)
        if status != 0 {
            capture.release()
            throw .recordFailed("cannot start the capture thread (pthread_create: \(status))")
        }
    }

    /// Asks the thread to read what is left, disable recording and close its connections;
    /// `deliver(nil)` says when it is done.
    /// Whether batches without events go out every tick (a step waits for a time-out) or only
    /// every `idleInterval`.
    func deliverEveryTick(_ everyTick: Bool) {
        flags.everyTick.store(everyTick, ordering: .relaxed)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    func stop() {
        flags.stopRaised.store(true, ordering: .releasing)
        var one: UInt8 = 1
        _ = write(wakePipe.write, &one, 1)
    }

    deinit {
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// The thread's body, handed over through pthread_create's `void *` argument. Not
    /// Sendable: it and everything it holds (the connections, the resolver) live on that
    /// thread alone from then on.
    private final class Runner {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}

/// Receives RECORD's intercepted data inside `XRecordProcessReplies`, on the capture thread.
/// Only touched on the capture thread.
final class RecordSink {
    var inputs: [RecordedInput] = []
    var minimumOffset: Int64?
    var localNow: Int64 = 0
    var started = false
    let resolver: KeyResolver
    private var clock = ServerClock()

    init(resolver: KeyResolver) { self.resolver = resolver }

    func take(_ recorded: UnsafeMutablePointer<XRecordInterceptData>) {
        defer { XRecordFreeData(recorded) }
        let item = recorded.pointee
        if item.category == XRecordStartOfData { started = true }
        if item.category == XRecordFromClient, let bytes = item.data {
            mappingChanged(UnsafeRawPointer(bytes), length: Int(item.data_len) * 4, swapped: item.client_swapped != 0)
            return
        }
        guard item.category == XRecordFromServer, let bytes = item.data, item.data_len * 4 >= 32 else { return }
        let raw = UnsafeRawPointer(bytes)
        let type = Int32(raw.load(as: UInt8.self) & 0x7F)
        let detail = raw.load(fromByteOffset: 1, as: UInt8.self)
        let time = clock.unwrap(raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let x = Int(raw.loadUnaligned(fromByteOffset: 20, as: Int16.self))
        let y = Int(raw.loadUnaligned(fromByteOffset: 22, as: Int16.self))
        let offset = localNow - time
        minimumOffset = min(minimumOffset ?? offset, offset)
        switch type {
        case KeyPress, KeyRelease:
            inputs.append(.key(resolver.resolve(keycode: detail, isPress: type == KeyPress, time: time)))
        case ButtonPress, ButtonRelease:
            inputs.append(
                .button(
                    ButtonInput(time: time, button: Int(detail), isPress: type == ButtonPress, point: .init(x: x, y: y))
                ))
        case MotionNotify:
            inputs.append(.motion(time: time, point: .init(x: x, y: y)))
        default:
            break
        }
    }
}

extension RecordSink {
    /// `X_ChangeKeyboardMapping` of `<X11/Xproto.h>`, which the CX11 module does not import.
    static let changeKeyboardMapping: UInt8 = 100

    /// A `ChangeKeyboardMapping` request: first keycode (byte 4), keysyms per keycode (byte
    /// 5), then keycode count (byte 1) × that many 32-bit keysyms from byte 8, in the
    /// client's byte order.
    func mappingChanged(_ request: UnsafeRawPointer, length: Int, swapped: Bool) {
        guard length >= 8, request.load(as: UInt8.self) == RecordSink.changeKeyboardMapping else { return }
        let count = Int(request.load(fromByteOffset: 1, as: UInt8.self))
        let first = request.load(fromByteOffset: 4, as: UInt8.self)
        let perKeycode = Int(request.load(fromByteOffset: 5, as: UInt8.self))
        guard perKeycode > 0, length >= 8 + 4 * count * perKeycode else { return }
        for index in 0..<count {
            let keysyms = (0..<perKeycode).map { level -> UInt32 in
                let raw = request.loadUnaligned(fromByteOffset: 8 + 4 * (index * perKeycode + level), as: UInt32.self)
                return swapped ? raw.byteSwapped : raw
            }
            resolver.applyCoreMapping(keycode: first &+ UInt8(index), keysyms: keysyms)
        }
    }
}

/// Server timestamps are 32-bit milliseconds that wrap after 49.7 days; this makes them a
/// continuous count.
struct ServerClock {
    private var last: UInt32?
    private var high: Int64 = 0

    mutating func unwrap(_ time: UInt32) -> Int64 {
        if let last, time < last, last - time > UInt32.max / 2 { high += 1 << 32 }
        last = time
        return high + Int64(time)
    }
}

/// Local monotonic milliseconds.
func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

/// The capture thread's loop: sync, read, hand over, wait a tick.
final class CaptureLoop {
    let control: OpaquePointer
    let data: OpaquePointer
    let context: XRecordContext
    let sink: Unmanaged<RecordSink>
    let tickMilliseconds: Int32
    let idleMilliseconds: Int64
    let wakeFD: Int32
    let deliver: @Sendable (InputCapture.Batch?) -> Void
    /// When the last batch went out, and whether it said recording had started.
    private var lastDelivered: Int64 = 0
    private var startedDelivered = false
    /// The control connection's XCB side, and the sequence of the sync request in flight.
    private let controlXCB: OpaquePointer
    private var pendingSync: UInt32?

    init(
        control: OpaquePointer, data: OpaquePointer, context: XRecordContext, sink: Unmanaged<RecordSink>,
        tickMilliseconds: Int32, idleMilliseconds: Int64, wakeFD: Int32,
        deliver: @escaping @Sendable (InputCapture.Batch?) -> Void
    ) {
        self.control = control
        controlXCB = cxkb_xcb_connection(control)
        self.data = data
        self.context = context
        self.sink = sink
        self.tickMilliseconds = tickMilliseconds
        self.idleMilliseconds = idleMilliseconds
        self.wakeFD = wakeFD
        self.deliver = deliver
    }

    func run(stopping: () -> Bool, everyTick: () -> Bool) {
        let sink = sink.takeUnretainedValue()
        let dataFD = cx11_connection_number(data)
        // Made once: a tick allocates nothing.
        var fds = [
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: dataFD, events: Int16(POLLIN), revents: 0),
        ]
        var drain = [UInt8](repeating: 0, count: 64)
        fds[1].revents = Int16(POLLIN)
        while true {
            let stop = stopping()
            // Recorded data is read when the data connection has some (and on the first and
            // last ticks): an idle tick makes no read that would find nothing.
            readOnce(sink, always: stop || everyTick(), roundTrip: stop, readData: fds[1].revents != 0)
            if stop {
                // What the server still holds: one more round trip flushes it to the data
                // connection, then the context is disabled and the end of data read.
                readOnce(sink, always: true, roundTrip: true)
                XRecordDisableContext(control, context)
                XSync(control, 0)
                readOnce(sink, always: true, roundTrip: true)
                break
            }
            fds[0].revents = 0
            fds[1].revents = 0
            _ = poll(&fds, 2, tickMilliseconds)
            if fds[0].revents != 0 {
                while read(wakeFD, &drain, drain.count) > 0 {}
            }
        }
        XRecordFreeContext(control, context)
        XSync(control, 0)
        self.sink.release()
        XCloseDisplay(data)
        XCloseDisplay(control)
        deliver(nil)
    }

    /// Asks the control connection for a reply without waiting for it: answering it makes the
    /// server flush the recorded data, which wakes the thread's `poll` when there is some. The
    /// answer is collected at the next tick, so an idle tick is one wake-up, not two (a
    /// blocking `XSync` sleeps again until its reply).
    private func requestSync() {
        pendingSync = xcb_get_input_focus(controlXCB).sequence
        xcb_flush(controlXCB)
    }

    private func collectSync() {
        guard let sequence = pendingSync else { return }
        pendingSync = nil
        free(xcb_get_input_focus_reply(controlXCB, xcb_get_input_focus_cookie_t(sequence: sequence), nil))
    }

    /// Keymap changes applied, recorded data read and handed over (`always`, or when there
    /// are events, or when the last batch is `idleMilliseconds` old). The reply that made the
    /// server flush the data was asked for by the tick before (or, with `roundTrip`, now).
    
    private func readOnce(_ sink: RecordSink, always: Bool, roundTrip: Bool = false, readData: Bool = true) {
        if roundTrip {
            collectSync()
            XSync(control, 0)
        } else {
            collectSync()
        }
        defer { if !roundTrip { requestSync() } }
        var keymapChanged = false
        var newKeyboard = false
        while XPending(control) > 0 {
            var event = XEvent()
            XNextEvent(control, &event)
            // XKB events (the only ones selected) and core MappingNotify both mean the keymap
            // or layout changed; a new keyboard (a layout switch) replaces every key.
            keymapChanged = true
            let xkbType = withUnsafePointer(to: &event) {
                $0.withMemoryRebound(to: XkbAnyEvent.self, capacity: 1) { $0.pointee.xkb_type }
            }
            if event.type == sink.resolver.xkbEventBase, xkbType == XkbNewKeyboardNotify { newKeyboard = true }
        }
        if keymapChanged { sink.resolver.reload(newKeyboard: newKeyboard) }
        sink.localNow = monotonicMilliseconds()
        if readData || roundTrip { XRecordProcessReplies(data) }
        guard always || !sink.inputs.isEmpty || sink.started != startedDelivered
            || sink.localNow - lastDelivered >= idleMilliseconds
        else { return }
        lastDelivered = sink.localNow
        startedDelivered = sink.started
        let batch = InputCapture.Batch(
            inputs: sink.inputs, localTime: sink.localNow, clockOffset: sink.minimumOffset, started: sink.started)
        sink.inputs.removeAll(keepingCapacity: true)
        sink.minimumOffset = nil
        deliver(batch)
    }
}
