import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// Borrowed keycodes for characters the keymap lacks. Each slot is an empty keycode that
/// carries one or two keysyms for as long as an action needs them: the first on level 1,
/// the second on level 2 (typed with Shift), so the pool holds twice as many characters as
/// there are empty keycodes.
///
/// A client translates a key event with the keymap it knows when it *processes* the event,
/// and it learns of a keymap change when it *reads* the notification. Changing what a
/// keycode produces after pressing it can therefore turn the earlier press into the new
/// character (xdotool's failure). So the keymap changes only between rounds: the first
/// character missing from the keymap maps the next distinct missing characters of the text
/// onto the free keycodes, both levels at once, and nothing is remapped while their keys are
/// typed. Only when the text has more distinct missing characters than the pool holds does
/// the driver wait `grace` after the last key event and remap every slot for the next round.
/// Restoring at the end waits the same grace.
struct ScratchKeycodes {
    /// Root window property listing the keycodes currently borrowed, so the next agent start
    /// can restore them after a crash (`X11Desktop.releaseAllInputs`).
    static let propertyName = "_CYBERDESK_BORROWED_KEYCODES"

    struct Slot {
        var keycode: KeyCode
        /// One or two keysyms: level 1, then level 2.
        var keysyms: [KeySym]
    }

    let grace: Duration
    private(set) var slots: [Slot] = []
    /// Empty keycodes not yet used this action (taken from the keymap when it starts).
    private var free: [KeyCode] = []
    /// Whether level 2 can be reached (the keymap has a Shift key).
    private var levels = 2
    var lastKeyEvent: ContinuousClock.Instant?
    private(set) var rounds = 0

    init(grace: Duration) {
        self.grace = grace
    }

    /// Starts an action with the empty keycodes of the current keymap.
    mutating func begin(emptyKeycodes: [KeyCode], hasShift: Bool) {
        if slots.isEmpty {
            free = emptyKeycodes.reversed()
        }
        levels = hasShift ? 2 : 1
        rounds = 0
    }

    /// Where `keysym` is mapped now: the keycode and the level (0 or 1).
    func place(of keysym: KeySym) -> (keycode: KeyCode, level: Int)? {
        for slot in slots {
            if let level = slot.keysyms.firstIndex(of: keysym) { return (slot.keycode, level) }
        }
        return nil
    }

    var isEmpty: Bool { slots.isEmpty }

    /// Maps `keysym` and the next distinct keysyms of `upcoming` onto keycodes not used yet
    /// in this action, without touching any slot already mapped. Nil when none is free.
    mutating func mapFree(_ keysym: KeySym, upcoming: some Sequence<KeySym>, display: OpaquePointer) -> (
        keycode: KeyCode, level: Int
    )? {
        guard !free.isEmpty else { return nil }
        var wanted: [KeySym] = [keysym]
        for next in upcoming where !wanted.contains(next) && place(of: next) == nil {
            if wanted.count == free.count * levels { break }
            wanted.append(next)
        }
        var rest = wanted[...]
        var taken: [KeyCode] = []
        while !rest.isEmpty, let keycode = free.popLast() {
            let take = Array(rest.prefix(levels))
            rest = rest.dropFirst(take.count)
            slots.append(Slot(keycode: keycode, keysyms: take))
            taken.append(keycode)
        }
        // Recorded before the keymap changes, so a crash between the two leaves no trace.
        Self.record(slots.map(\.keycode), display: display)
        for slot in slots where taken.contains(slot.keycode) { remap(slot, display: display) }
        return place(of: keysym)
    }

    /// The keysyms of the next round: `keysym`, then the next distinct ones from `upcoming`,
    /// as many as the slots hold.
    func planRound(_ keysym: KeySym, upcoming: some Sequence<KeySym>) -> [KeySym] {
        let capacity = slots.count * levels
        var wanted: [KeySym] = [keysym]
        for next in upcoming where !wanted.contains(next) {
            if wanted.count == capacity { break }
            wanted.append(next)
        }
        return wanted
    }

    /// Maps the wanted keysyms onto the slots. Call only after the grace has passed.
    mutating func remapRound(_ wanted: [KeySym], display: OpaquePointer) {
        rounds += 1
        var rest = wanted[...]
        for index in slots.indices {
            let take = Array(rest.prefix(levels))
            rest = rest.dropFirst(take.count)
            guard !take.isEmpty else { break }
            slots[index].keysyms = take
            remap(slots[index], display: display)
        }
    }

    /// When the last key event's grace ends (nil when there was none).
    var graceDeadline: ContinuousClock.Instant? {
        lastKeyEvent.map { $0.advanced(by: grace) }
    }

    private func remap(_ slot: Slot, display: OpaquePointer) {
        // One keysym: the same on every level, so Shift cannot change it. Two: levels 1 and 2.
        var syms: [KeySym] = slot.keysyms.count == 1 ? Array(repeating: slot.keysyms[0], count: 4) : slot.keysyms
        XChangeKeyboardMapping(display, Int32(slot.keycode), Int32(syms.count), &syms, 1)
    }

    /// Returns every slot to empty. With `waitForGrace` it first gives clients time to
    /// translate the last key events (a blocking sleep: used on exit paths).
    mutating func restoreAll(display: OpaquePointer, waitForGrace: Bool) {
        guard !slots.isEmpty else { return }
        XSync(display, 0)
        if waitForGrace, let last = lastKeyEvent {
            let remaining = last.advanced(by: grace) - .now
            if remaining > .zero {
                let (seconds, attoseconds) = remaining.components
                var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                nanosleep(&request, nil)
            }
        }
        Self.clear(slots.map(\.keycode), display: display)
        free.append(contentsOf: slots.map(\.keycode))
        slots.removeAll()
        Self.record([], display: display)
        XSync(display, 0)
    }

    /// Empties `keycodes` in the keymap.
    static func clear(_ keycodes: [KeyCode], display: OpaquePointer) {
        for keycode in keycodes {
            var none: [KeySym] = [0]
            XChangeKeyboardMapping(display, Int32(keycode), 1, &none, 1)
        }
    }

    /// Writes the borrowed keycodes to the root window property (deletes it when empty).
    static func record(_ keycodes: [KeyCode], display: OpaquePointer) {
        let root = cx11_root_window(display)
        let atom = XInternAtom(display, propertyName, 0)
        guard !keycodes.isEmpty else {
            XDeleteProperty(display, root, atom)
            return
        }
        let values = keycodes.map { Int($0) }
        values.withUnsafeBytes {
            _ = XChangeProperty(
                display, root, atom, Atom(XA_INTEGER), 32, PropModeReplace,
                $0.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(values.count))
        }
    }

    /// Keycodes a previous agent borrowed and did not restore (it was killed), if any.
    static func leftover(display: OpaquePointer) -> [KeyCode] {
        let root = cx11_root_window(display)
        let atom = XInternAtom(display, propertyName, 1)
        guard atom != 0 else { return [] }
        var type: Atom = 0
        var format: Int32 = 0
        var count: UInt = 0
        var remaining: UInt = 0
        var data: UnsafeMutablePointer<UInt8>?
        XGetWindowProperty(display, root, atom, 0, 256, 0, Atom(XA_INTEGER), &type, &format, &count, &remaining, &data)
        defer { if let data { XFree(data) } }
        guard let data, format == 32 else { return [] }
        // Format-32 properties come back as C longs.
        return UnsafeRawPointer(data).withMemoryRebound(to: Int.self, capacity: Int(count)) { longs in
            (0..<Int(count)).compactMap { (8...255).contains(longs[$0]) ? KeyCode(longs[$0]) : nil }
        }
    }
}
