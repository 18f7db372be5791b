import CX11
import Synchronization

/// Xlib's default error handler exits the process. This one records each error under the
/// Display it happened on, and the driver turns it into a typed error after an XSync.
///
/// The state lives in Swift, not in the C shim: static variables in a header imported by
/// Swift get one copy per compiled file, so a handler in C could write where the reader
/// never looks.
enum X11Errors {
    struct Recorded: Sendable {
        var code: Int32
        var request: UInt8
    }

    /// Process-wide because Xlib's handler is a C function pointer with no context argument;
    /// entries are keyed by Display and cleared when a driver closes its display.
    private static let recorded = Mutex<[UInt: Recorded]>([:])

    /// Installs the handler once per process (installing again is harmless).
    static func install() {
        XSetErrorHandler { display, event in
            guard let display, let event else { return 0 }
            let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(display)))
            let error = Recorded(code: Int32(event.pointee.error_code), request: event.pointee.request_code)
            X11Errors.recorded.withLock { $0[key] = error }
            return 0
        }
    }

    /// Returns and clears the last error recorded for `display`.
    static func take(_ display: OpaquePointer) -> Recorded? {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(display)))
        return recorded.withLock { $0.removeValue(forKey: key) }
    }
}
