import CX11
import Foundation

/// A real X client for tests, on its own connection: an override-redirect window that
/// records the input it receives, or shows rectangles of known colours.
public final class TestWindow {
    public struct Event: Equatable, CustomStringConvertible {
        public enum Kind: String { case buttonPress, buttonRelease, motion, keyPress, keyRelease }
        public var kind: Kind
        /// Button number or keycode.
        public var detail: UInt32
        public var x: Int
        public var y: Int
        public var keysym: UInt = 0
        public var description: String { "\(kind)(\(detail)) at \(x),\(y)" }

        public init(kind: Kind, detail: UInt32, x: Int, y: Int, keysym: UInt = 0) {
            self.kind = kind
            self.detail = detail
            self.x = x
            self.y = y
            self.keysym = keysym
        }
    }

    public let display: OpaquePointer
    public let window: Window
    public let frame: (x: Int, y: Int, width: Int, height: Int)
    private(set) var events: [Event] = []

    public init(display name: String, x: Int, y: Int, width: Int, height: Int, background: UInt = 0xFFFFFF) throws {
        guard let display = XOpenDisplay(name) else { throw TestFailure("cannot open \(name)") }
        self.display = display
        self.frame = (x, y, width, height)
        var attributes = XSetWindowAttributes()
        attributes.override_redirect = 1
        attributes.background_pixel = background
        attributes.event_mask =
            ButtonPressMask | ButtonReleaseMask | PointerMotionMask | KeyPressMask
            | KeyReleaseMask | StructureNotifyMask | ExposureMask
        window = XCreateWindow(
            display, cx11_root_window(display), Int32(x), Int32(y), UInt32(width), UInt32(height), 0,
            cx11_default_depth(display), UInt32(InputOutput), cx11_default_visual(display),
            UInt(CWOverrideRedirect | CWBackPixel | CWEventMask), &attributes)
        XMapRaised(display, window)
        XSync(display, 0)
        guard wait(timeout: 5, for: { $0.type == MapNotify }) != nil else {
            throw TestFailure("test window never mapped")
        }
    }

    deinit {
        XDestroyWindow(display, window)
        XCloseDisplay(display)
    }

    /// Fills rectangles with exact 24-bit colours (TrueColor pixel = 0xRRGGBB).
    public func paint(_ rects: [(x: Int, y: Int, width: Int, height: Int, rgb: UInt)]) {
        let gc = XCreateGC(display, window, 0, nil)
        for rect in rects {
            XSetForeground(display, gc, rect.rgb)
            XFillRectangle(display, window, gc, Int32(rect.x), Int32(rect.y), UInt32(rect.width), UInt32(rect.height))
        }
        XFreeGC(display, gc)
        XSync(display, 0)
    }

    /// Moves the window (its top-left corner) on the screen.
    public func move(toX x: Int, y: Int) {
        XMoveWindow(display, window, Int32(x), Int32(y))
        XSync(display, 0)
    }

    /// Hides the window, or shows it again on top.
    public func setMapped(_ mapped: Bool) {
        if mapped { XMapRaised(display, window) } else { XUnmapWindow(display, window) }
        XSync(display, 0)
    }

    /// Reads pending events into `events`; returns the first matching one within `timeout`.
    @discardableResult
    public func wait(timeout: Double, for match: (XEvent) -> Bool = { _ in false }) -> XEvent? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            while XPending(display) > 0 {
                var event = XEvent()
                XNextEvent(display, &event)
                record(event)
                if match(event) { return event }
            }
            var pfd = pollfd(fd: cx11_connection_number(display), events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 10)
        } while Date() < deadline
        return nil
    }

    /// Collects events until `count` input events are recorded or `timeout` passes.
    public func collect(atLeast count: Int, timeout: Double = 5) -> [Event] {
        let deadline = Date().addingTimeInterval(timeout)
        while events.count < count, Date() < deadline { wait(timeout: 0.05) }
        return events
    }

    /// Drains whatever arrives within `quiet` seconds (to show that nothing arrived).
    public func settle(quiet: Double = 0.3) -> [Event] {
        XSync(display, 0)
        wait(timeout: quiet)
        return events
    }

    public func reset() {
        wait(timeout: 0.05)
        events.removeAll()
    }

    private func record(_ event: XEvent) {
        var event = event
        switch event.type {
        case ButtonPress, ButtonRelease:
            let b = event.xbutton
            events.append(
                Event(
                    kind: event.type == ButtonPress ? .buttonPress : .buttonRelease,
                    detail: b.button, x: Int(b.x_root), y: Int(b.y_root)))
        case MotionNotify:
            let m = event.xmotion
            events.append(Event(kind: .motion, detail: 0, x: Int(m.x_root), y: Int(m.y_root)))
        case KeyPress, KeyRelease:
            var keysym: KeySym = 0
            var buffer = [CChar](repeating: 0, count: 16)
            XLookupString(&event.xkey, &buffer, Int32(buffer.count), &keysym, nil)
            events.append(
                Event(
                    kind: event.type == KeyPress ? .keyPress : .keyRelease, detail: event.xkey.keycode,
                    x: Int(event.xkey.x_root), y: Int(event.xkey.y_root), keysym: keysym))
        default:
            break
        }
    }

    /// XKB locked modifiers (Caps Lock is LockMask) as this client sees them.
    public func lockedModifiers() -> UInt32 {
        var state = XkbStateRec()
        XkbGetState(display, UInt32(XkbUseCoreKbd), &state)
        return UInt32(state.locked_mods)
    }
}
