import CX11
import Foundation
import Synchronization

/// A real X client that lags like a busy toolkit application: it lists `_NET_WM_PING` in
/// `WM_PROTOCOLS` and answers pings, but handles every event `delay` after the previous
/// one, on its own thread and connection.
///
/// It reads events the way Xlib clients do: `XPending` pulls everything the socket holds into
/// Xlib's queue, so a keymap change notification is read long before the key events queued
/// ahead of it are translated (with `XLookupString`, which then fetches the current map).
/// That is the failure issue 14 describes; a driver that changes a keycode before this client
/// has processed the events typed on it loses characters here.
public final class LaggingPingClient: Sendable {
    private struct State {
        var ready = false
        var failure: String?
        var stop = false
        var text = ""
        var pings = 0
        var window: UInt = 0
    }

    private let state = Mutex(State())
    private let done = Mutex(false)

    /// Opens a window at (x, y) and starts handling its events with `delay` per event.
    public init(display name: String, x: Int, y: Int, width: Int, height: Int, delay: Duration) async throws {
        let (seconds, attoseconds) = delay.components
        let delayMicros = UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        let thread = Thread { [self] in
            run(display: name, x: x, y: y, width: width, height: height, delayMicros: delayMicros)
            done.withLock { $0 = true }
        }
        thread.name = "lagging-ping-client"
        thread.start()
        let started = await eventually(timeout: .seconds(10)) { self.state.withLock { $0.ready || $0.failure != nil } }
        if let failure = state.withLock({ $0.failure }) { throw TestFailure(failure) }
        guard started else { throw TestFailure("the lagging ping client did not map its window") }
    }

    /// The text its key presses produced, in order.
    public var text: String { state.withLock { $0.text } }
    /// `_NET_WM_PING` messages it answered.
    public var pingsAnswered: Int { state.withLock { $0.pings } }

    /// Waits until the text ends with `marker` (or the timeout) and returns it.
    public func waitForText(endingWith marker: String, timeout: Duration = .seconds(60)) async -> String {
        _ = await eventually(timeout: timeout) { self.text.hasSuffix(marker) }
        return text
    }

    public func clear() { state.withLock { $0.text = "" } }

    /// Stops the thread and closes its connection.
    public func stop() async {
        state.withLock { $0.stop = true }
        _ = await eventually(timeout: .seconds(10)) { self.done.withLock { $0 } }
    }

    private func run(display name: String, x: Int, y: Int, width: Int, height: Int, delayMicros: UInt32) {
        guard let display = XOpenDisplay(name) else {
            state.withLock { $0.failure = "cannot open \(name)" }
            return
        }
        defer { XCloseDisplay(display) }
        let root = cx11_root_window(display)
        var attributes = XSetWindowAttributes()
        attributes.background_pixel = 0xE0E0FF
        attributes.event_mask = KeyPressMask | KeyReleaseMask | StructureNotifyMask
        let window = XCreateWindow(
            display, root, Int32(x), Int32(y), UInt32(width), UInt32(height), 0, cx11_default_depth(display),
            UInt32(InputOutput), cx11_default_visual(display), UInt(CWBackPixel | CWEventMask), &attributes)
        let wmProtocols = XInternAtom(display, "WM_PROTOCOLS", 0)
        let ping = XInternAtom(display, "_NET_WM_PING", 0)
        var protocols = [XInternAtom(display, "WM_DELETE_WINDOW", 0), ping]
        XSetWMProtocols(display, window, &protocols, Int32(protocols.count))
        XStoreName(display, window, "lagging-ping-client")
        // Loads Xlib's XKB state now, as a toolkit does at start, so keymap notifications are
        // followed from the first key on.
        _ = XKeysymToKeycode(display, KeySym(XK_a))
        XMapRaised(display, window)
        XSync(display, 0)
        state.withLock { $0.window = UInt(window) }
        let fd = cx11_connection_number(display)
        while !state.withLock({ $0.stop }) {
            if XPending(display) == 0 {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&poller, 1, 50)
                continue
            }
            var event = XEvent()
            XNextEvent(display, &event)
            usleep(delayMicros)
            switch event.type {
            case MapNotify:
                state.withLock { $0.ready = true }
            case KeyPress:
                var buffer = [CChar](repeating: 0, count: 32)
                var keysym: KeySym = 0
                _ = XLookupString(&event.xkey, &buffer, Int32(buffer.count), &keysym, nil)
                if let character = Self.character(keysym) {
                    state.withLock { $0.text.unicodeScalars.append(character) }
                }
            case MappingNotify:
                XRefreshKeyboardMapping(&event.xmapping)
            case ClientMessage
            where event.xclient.message_type == wmProtocols && event.xclient.data.l.0 == Int(ping):
                // EWMH: the same message back to the root window, for the window manager.
                event.xclient.window = root
                XSendEvent(display, root, 0, SubstructureNotifyMask | SubstructureRedirectMask, &event)
                XFlush(display)
                state.withLock { $0.pings += 1 }
            default:
                break
            }
        }
        XDestroyWindow(display, window)
    }

    /// The character a keysym stands for (Latin-1 and Unicode keysyms, Return, Tab).
    static func character(_ keysym: KeySym) -> Unicode.Scalar? {
        switch keysym {
        case 0x20...0x7E, 0xA0...0xFF: return Unicode.Scalar(UInt32(keysym))
        case 0xFF0D: return "\n"
        case 0xFF09: return "\t"
        case 0x0100_0000...0x0110_FFFF: return Unicode.Scalar(UInt32(keysym & 0xFF_FFFF))
        default: return nil
        }
    }
}
