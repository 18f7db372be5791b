import CX11
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
/// the context is disabled. Each tick hands over a batch, empty or not, with the local time
/// it was read at: the recorder's clock for crops and time-outs.
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

    /// Set by `stop()`, read by the capture thread each tick.
    private final class StopFlag: Sendable {
        let raised = Atomic(false)
    }

    private let stopFlag = StopFlag()
    private let wakePipe: (read: Int32, write: Int32)

    /// Opens both connections and enables recording; `deliver` is called on the capture
    /// thread with every batch, and once more with `nil` when the capture has ended.
    init(displayName: String, tick: Duration = .milliseconds(20), deliver: @escaping @Sendable (Batch?) -> Void)
        throws(RecorderError)
    {
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
            tickMilliseconds: Int32(
                tick.components.seconds * 1000 + tick.components.attoseconds / 1_000_000_000_000_000),
            wakeFD: wakePipe.read, deliver: deliver)
        let capture = Unmanaged.passRetained(
            Runner { [stopFlag] in
                loop.run { stopFlag.raised.load(ordering: .acquiring) }
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
    func stop() {
        stopFlag.raised.store(true, ordering: .releasing)
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
    let wakeFD: Int32
    let deliver: @Sendable (InputCapture.Batch?) -> Void

    init(
        control: OpaquePointer, data: OpaquePointer, context: XRecordContext, sink: Unmanaged<RecordSink>,
        tickMilliseconds: Int32, wakeFD: Int32, deliver: @escaping @Sendable (InputCapture.Batch?) -> Void
    ) {
        self.control = control
        self.data = data
        self.context = context
        self.sink = sink
        self.tickMilliseconds = tickMilliseconds
        self.wakeFD = wakeFD
        self.deliver = deliver
    }

    func run(stopping: () -> Bool) {
        let sink = sink.takeUnretainedValue()
        let dataFD = cx11_connection_number(data)
        while true {
            let stop = stopping()
            readOnce(sink)
            if stop {
                // What the server still holds: one more round trip flushes it to the data
                // connection, then the context is disabled and the end of data read.
                readOnce(sink)
                XRecordDisableContext(control, context)
                XSync(control, 0)
                readOnce(sink)
                break
            }
            var fds = [
                pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: dataFD, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, tickMilliseconds)
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakeFD, &drain, drain.count) > 0 {}
        }
        XRecordFreeContext(control, context)
        XSync(control, 0)
        self.sink.release()
        XCloseDisplay(data)
        XCloseDisplay(control)
        deliver(nil)
    }

    /// One round trip on the control connection, keymap changes applied, recorded data read.
    private func readOnce(_ sink: RecordSink) {
        XSync(control, 0)
        var keymapChanged = false
        while XPending(control) > 0 {
            var event = XEvent()
            XNextEvent(control, &event)
            // XKB events (the only ones selected) and core MappingNotify both mean the keymap
            // or layout changed.
            keymapChanged = true
        }
        if keymapChanged { sink.resolver.reload() }
        sink.localNow = monotonicMilliseconds()
        XRecordProcessReplies(data)
        let batch = InputCapture.Batch(
            inputs: sink.inputs, localTime: sink.localNow, clockOffset: sink.minimumOffset, started: sink.started)
        sink.inputs.removeAll(keepingCapacity: true)
        sink.minimumOffset = nil
        deliver(batch)
    }
}
