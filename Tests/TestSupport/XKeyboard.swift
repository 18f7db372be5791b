import CX11
import Foundation

/// The X server's view of the keyboard, from a connection of the test's own.
public enum XKeyboard {
    /// Keycodes the server reports as pressed (`XQueryKeymap`): a key an agent pressed with
    /// XTest and never released shows here, whoever pressed it.
    public static func pressedKeycodes(display name: String) throws -> [Int] {
        guard let display = XOpenDisplay(name) else { throw TestFailure("cannot open \(name)") }
        defer { XCloseDisplay(display) }
        var keys = [CChar](repeating: 0, count: 32)
        XQueryKeymap(display, &keys)
        var pressed: [Int] = []
        for (byte, bits) in keys.enumerated() {
            for bit in 0..<8 where UInt8(bitPattern: bits) & (1 << UInt8(bit)) != 0 { pressed.append(byte * 8 + bit) }
        }
        return pressed
    }
}
