import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// The X11 implementation of `Desktop`: XTest for input, MIT-SHM (or XGetImage) and libpng
/// for screenshots, XKB for the keymap, a hidden window for the clipboard.
///
/// The actor runs on its own thread (`X11Thread`), so the `Display*` has exactly one owner
/// and the driver keeps serving clipboard requests while idle.
public actor X11Desktop: Desktop {
    private let thread: X11Thread
    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    let display: OpaquePointer
    let root: Window
    let screen: Int32
    /// Invisible window that owns selections and receives their replies.
    let window: Window
    let atoms: Atoms
    /// First event code of RandR, whose screen-change events keep `screenSize` current.
    let randrEventBase: Int32?
    /// The root window's size, read once and refreshed on RandR screen changes, so checking
    /// a point costs no round trip (Xlib's DisplayWidth never follows a resize).
    var screenSize: Size

    var capture: ScreenCapture?
    /// A second segment for `capturePixels`, sized for checkpoint regions (reused while the
    /// size stays), so checkpoint polls do not resize the screenshot segment back and forth.
    var regionCapture: ScreenCapture?
    var rgbBuffer: [UInt8] = []
    var pngSettings: PNGSettings

    /// Keys and buttons this driver has pressed and not yet released.
    var heldKeys: [KeyCode] = []
    var heldButtons: [UInt32] = []
    var scratch = ScratchKeycodes()
    /// Clients that received key events on borrowed keycodes since they last confirmed
    /// processing them (`catchUp`), and whether the running action has noted its receiver.
    var scratchReceivers: [KeyboardClient] = []
    var scratchReceiverNoted = false
    /// `_NET_WM_PING` serials sent and answers received.
    var pingStamp = 0
    var pongs: Set<Int> = []
    /// Confirmations waited for (the benchmark and tests read it).
    var catchUps = 0
    /// The running `catchUp` may end early when its task is cancelled.
    var catchUpCancellable = false
    /// Restores the borrowed keycodes once typing has been idle (`scheduleIdleRestore`).
    var idleRestore: Task<Void, Never>?
    var idleGeneration = 0
    var closed = false

    var clipboard = ClipboardOwner()

    /// Whether an input action is running, and the actions waiting for it (`exclusively`).
    var inputBusy = false
    var inputWaiters: [CheckedContinuation<Void, Never>] = []

    /// How to open the display and how the driver behaves; the defaults suit the daemon.
    public struct Configuration: Sendable {
        /// X display name; nil uses `DISPLAY`.
        public var displayName: String?
        public var png: PNGSettings
        /// Use MIT-SHM when the server offers it (local displays).
        public var useSharedMemory: Bool
        /// How long a borrowed keycode must rest before it is remapped or restored when the
        /// receiving client can be asked neither by `_NET_WM_PING` nor through its process
        /// (a remote client that answers no ping).
        public var scratchGrace: Duration
        /// Borrowed keycodes stay mapped between actions and are restored once no key was
        /// typed for this long.
        public var borrowedKeycodesIdle: Duration
        /// The keymap is back to its original state at the latest this long after the last
        /// key event, even when a client has not confirmed yet.
        public var borrowedKeycodesLimit: Duration
        /// Within an action, how long to wait for a client to confirm before remapping anyway.
        public var catchUpLimit: Duration
        /// Release every key and button left down, and empty keycodes left borrowed, when
        /// the display opens: what the daemon does at start after a crash. Off for the debug
        /// commands, so `key shift --down` can outlast one command.
        public var releaseHeldInputAtStart: Bool

        public init(
            displayName: String? = nil, png: PNGSettings = .fast, useSharedMemory: Bool = true,
            scratchGrace: Duration = .milliseconds(150), releaseHeldInputAtStart: Bool = false,
            borrowedKeycodesIdle: Duration = .seconds(2), borrowedKeycodesLimit: Duration = .milliseconds(4500),
            catchUpLimit: Duration = .seconds(30)
        ) {
            self.displayName = displayName
            self.png = png
            self.useSharedMemory = useSharedMemory
            self.scratchGrace = scratchGrace
            self.borrowedKeycodesIdle = borrowedKeycodesIdle
            self.borrowedKeycodesLimit = max(borrowedKeycodesLimit, borrowedKeycodesIdle)
            self.catchUpLimit = catchUpLimit
            self.releaseHeldInputAtStart = releaseHeldInputAtStart
        }
    }

    public let configuration: Configuration

    /// Opens the display and checks for XTest. Throws a clear error when the display cannot
    /// be opened or lacks an extension the driver needs.
    public init(_ configuration: Configuration = Configuration()) async throws {
        let thread = X11Thread(name: "cyberdesk-x11")
        self.thread = thread
        self.configuration = configuration
        self.pngSettings = configuration.png
        let name = configuration.displayName ?? getenv("DISPLAY").map { String(cString: $0) } ?? ""
        guard !name.isEmpty else {
            thread.stop()
            throw DesktopError.cannotOpenDisplay("(DISPLAY is not set)")
        }
        X11Errors.install()
        guard let display = XOpenDisplay(name) else {
            thread.stop()
            throw DesktopError.cannotOpenDisplay(name)
        }
        var eventBase: Int32 = 0
        var errorBase: Int32 = 0
        var major: Int32 = 0
        var minor: Int32 = 0
        guard XTestQueryExtension(display, &eventBase, &errorBase, &major, &minor) != 0 else {
            XCloseDisplay(display)
            thread.stop()
            throw DesktopError.extensionMissing("XTEST")
        }
        self.display = display
        self.screen = cx11_default_screen(display)
        self.root = cx11_root_window(display)
        self.atoms = Atoms(display)
        var attributes = XSetWindowAttributes()
        attributes.event_mask = PropertyChangeMask
        self.window = XCreateWindow(
            display, root, -10, -10, 1, 1, 0, 0, UInt32(InputOnly), nil,
            UInt(CWEventMask), &attributes)
        var randrEvent: Int32 = 0
        var randrError: Int32 = 0
        if XRRQueryExtension(display, &randrEvent, &randrError) != 0 {
            self.randrEventBase = randrEvent
            XRRSelectInput(display, root, Int32(RRScreenChangeNotifyMask))
        } else {
            self.randrEventBase = nil
        }
        self.screenSize = Self.rootSize(display, root)
        // Our own fake events must not be held back by another client's grab.
        XTestGrabControl(display, 1)
        XSync(display, 0)
        let fd = cx11_connection_number(display)
        thread.watch(fd: fd) { [weak self] in
            guard let self else { return }
            self.assumeIsolated { $0.dispatchPendingEvents() }
        }
        if configuration.releaseHeldInputAtStart {
            try await releaseAllInputs()
        }
    }

    /// Restores borrowed keycodes (once the clients have processed the key events typed on
    /// them, within `borrowedKeycodesLimit`) and closes the connection. Keys and buttons still
    /// held (a `key --down` that should outlast a debug command) are released only when
    /// asked; the daemon always asks.
    public func close(releasingHeldInput: Bool = true) async {
        guard !closed else { return }
        closed = true
        idleRestore?.cancel()
        // After any action or idle restore still running: they use the display until they end.
        try? await exclusively {
            if releasingHeldInput { releaseTracked() }
            await restoreBorrowedKeycodes()
        }
        capture?.destroy(display: display)
        capture = nil
        regionCapture?.destroy(display: display)
        regionCapture = nil
        XDestroyWindow(display, window)
        XSync(display, 0)
        _ = X11Errors.take(display)
        XCloseDisplay(display)
        thread.stop()
    }

    // MARK: - Errors

    /// Round-trips to the server and turns an X error raised since the last check into a
    /// typed error.
    func sync(_ during: @autoclosure () -> String) throws {
        XSync(display, 0)
        if let error = X11Errors.take(display) {
            throw DesktopError.x11(code: error.code, request: error.request, during: during())
        }
    }

    // MARK: - Geometry

    /// The screen size, following RandR resolution changes (pending events are read first).
    public func dimensions() throws -> Size {
        dispatchPendingEvents()
        return screenSize
    }

    /// Asks the server for the root window's size.
    static func rootSize(_ display: OpaquePointer, _ root: Window) -> Size {
        var rootReturn: Window = 0
        var x: Int32 = 0
        var y: Int32 = 0
        var width: UInt32 = 0
        var height: UInt32 = 0
        var border: UInt32 = 0
        var depth: UInt32 = 0
        guard XGetGeometry(display, root, &rootReturn, &x, &y, &width, &height, &border, &depth) != 0 else {
            return Size(width: Int(cx11_display_width(display)), height: Int(cx11_display_height(display)))
        }
        return Size(width: Int(width), height: Int(height))
    }

    func checkOnScreen(_ point: Point) throws {
        let size = try dimensions()
        guard point.x >= 0, point.y >= 0, point.x < size.width, point.y < size.height else {
            throw DesktopError.outOfScreen(point, size)
        }
    }

    // MARK: - Held input

    /// Presses or releases a key through XTest, keeping the set of held keys current.
    func fakeKey(_ keycode: KeyCode, down: Bool) {
        XTestFakeKeyEvent(display, UInt32(keycode), down ? 1 : 0, 0)
        Self.track(keycode, down: down, in: &heldKeys)
    }

    func fakeButton(_ button: UInt32, down: Bool) {
        XTestFakeButtonEvent(display, button, down ? 1 : 0, 0)
        Self.track(button, down: down, in: &heldButtons)
    }

    /// Adds a press to `held`, or removes the latest press of the same key or button.
    private static func track<T: Equatable>(_ value: T, down: Bool, in held: inout [T]) {
        if down {
            held.append(value)
        } else if let index = held.lastIndex(of: value) {
            held.remove(at: index)
        }
    }

    /// Releases what this driver pressed, in reverse order. Used on every error and
    /// cancellation path, so no key stays down after a failed action.
    func releaseTracked() {
        for keycode in heldKeys.reversed() {
            XTestFakeKeyEvent(display, UInt32(keycode), 0, 0)
        }
        for button in heldButtons.reversed() {
            XTestFakeButtonEvent(display, button, 0, 0)
        }
        heldKeys.removeAll()
        heldButtons.removeAll()
        XSync(display, 0)
    }

    /// Keys and buttons the X server reports as down right now.
    public func pressedInputs() -> (keys: [Int], buttons: [Int]) {
        var keymap = [CChar](repeating: 0, count: 32)
        XQueryKeymap(display, &keymap)
        var keys: [Int] = []
        for keycode in 8..<256 where UInt8(bitPattern: keymap[keycode / 8]) & (1 << UInt8(keycode % 8)) != 0 {
            keys.append(keycode)
        }
        let mask = queryPointer().buttons
        let buttonMasks: [(Int, Int32)] = [
            (1, Button1Mask), (2, Button2Mask), (3, Button3Mask), (4, Button4Mask), (5, Button5Mask),
        ]
        let buttons = buttonMasks.filter { mask & UInt32($0.1) != 0 }.map(\.0)
        return (keys, buttons)
    }

    /// Releases every key and button the server reports down, and empties the keycodes a
    /// killed agent had borrowed (listed on the root window). XTest releases only affect
    /// what XTest pressed, so a key a person is holding on a real keyboard is not touched;
    /// a key left down by a crashed XTest client (a stuck Shift) is.
    ///
    /// Keycodes this driver borrowed go back to empty too, once the clients have processed
    /// the key events typed on them (`restoreBorrowedKeycodes`).
    public func releaseAllInputs() async throws {
        try await exclusively {
            releaseTracked()
            if scratch.isEmpty {
                // Keycodes a killed agent borrowed for missing characters go back to empty.
                ScratchKeycodes.clear(ScratchKeycodes.leftover(display: display), display: display)
                ScratchKeycodes.record([], display: display)
            } else {
                await restoreBorrowedKeycodes()
            }
            let (keys, buttons) = pressedInputs()
            for keycode in keys {
                XTestFakeKeyEvent(display, UInt32(keycode), 0, 0)
            }
            for button in buttons {
                XTestFakeButtonEvent(display, UInt32(button), 0, 0)
            }
            try sync("releasing held keys and buttons")
        }
    }

    // MARK: - Borrowed keycodes

    /// Waits for the clients to process what was typed on borrowed keycodes, at most until
    /// `borrowedKeycodesLimit` after the last key event, then empties the keycodes.
    func restoreBorrowedKeycodes() async {
        guard !scratch.isEmpty else { return }
        let limit = (scratch.lastKeyEvent ?? .now).advanced(by: configuration.borrowedKeycodesLimit)
        await catchUp(deadline: limit)
        scratch.restoreAll(display: display)
    }

    /// After a keyboard action that leaves keycodes borrowed: restore them once no key has
    /// been typed for `borrowedKeycodesIdle`. Runs on this actor, the Display's one owner; a
    /// later action supersedes it.
    func scheduleIdleRestore() {
        idleGeneration += 1
        idleRestore?.cancel()
        idleRestore = nil
        guard !scratch.isEmpty, !closed else { return }
        let generation = idleGeneration
        let due = (scratch.lastKeyEvent ?? .now).advanced(by: configuration.borrowedKeycodesIdle)
        idleRestore = Task {
            guard (try? await Task.sleep(until: due, clock: .continuous)) != nil else { return }
            try? await self.exclusively {
                guard generation == self.idleGeneration, !self.closed else { return }
                await self.restoreBorrowedKeycodes()
            }
        }
    }

    /// Runs an input action; on any error or cancellation everything it pressed is
    /// released before the error propagates.
    func withInputCleanup<T>(_ body: () async throws -> T) async throws -> T {
        try await exclusively {
            do {
                return try await body()
            } catch {
                releaseTracked()
                _ = X11Errors.take(display)
                throw error
            }
        }
    }

    /// Runs one input action at a time. The actor is reentrant where an action waits (drag
    /// steps, typing delays, the scratch grace); without this a second action could press
    /// keys in the middle of the first or restore keycodes it is still typing on.
    func exclusively<T>(_ body: () async throws -> T) async throws -> T {
        while inputBusy {
            await withCheckedContinuation { inputWaiters.append($0) }
        }
        inputBusy = true
        defer {
            inputBusy = false
            if !inputWaiters.isEmpty { inputWaiters.removeFirst().resume() }
        }
        return try await body()
    }

    // MARK: - Events

    /// Handles whatever the X connection has delivered: clipboard requests from other
    /// clients, loss of selection ownership, INCR transfers.
    func dispatchPendingEvents() {
        while XPending(display) > 0 {
            var event = XEvent()
            XNextEvent(display, &event)
            handle(event)
        }
    }

    func handle(_ event: XEvent) {
        switch event.type {
        case SelectionRequest:
            answer(event.xselectionrequest)
        case SelectionClear:
            selectionCleared(event.xselectionclear)
        case PropertyNotify:
            propertyChanged(event.xproperty)
        case ClientMessage:
            receivedClientMessage(event.xclient)
        case let type where randrEventBase.map { type == $0 + RRScreenChangeNotify } ?? false:
            var event = event
            XRRUpdateConfiguration(&event)
            screenSize = Self.rootSize(display, root)
        default:
            break
        }
    }
}

/// Atoms the driver uses, interned once per connection.
struct Atoms: Sendable {
    let clipboard: Atom
    let utf8String: Atom
    let string: Atom
    let text: Atom
    let targets: Atom
    let incr: Atom
    let timestamp: Atom
    let transfer: Atom
    let wmProtocols: Atom
    let netWMPing: Atom

    init(_ display: OpaquePointer) {
        func intern(_ name: String) -> Atom { XInternAtom(display, name, 0) }
        clipboard = intern("CLIPBOARD")
        utf8String = intern("UTF8_STRING")
        string = Atom(XA_STRING)
        text = intern("TEXT")
        targets = intern("TARGETS")
        incr = intern("INCR")
        timestamp = intern("TIMESTAMP")
        transfer = intern("CYBERDESK_SELECTION")
        wmProtocols = intern("WM_PROTOCOLS")
        netWMPing = intern("_NET_WM_PING")
    }
}
