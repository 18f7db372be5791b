import CX11

#if canImport(Glibc)
import Glibc
#endif

/// Borrowed keycodes for characters the keymap lacks. Each slot is an empty keycode mapped
/// to one keysym (on every level) for as long as an action needs it.
///
/// A client translates a key event with the keymap it knows when it *processes* the event,
/// and it learns of a keymap change when it *reads* the notification. Remapping a slot right
/// after pressing it can therefore turn the earlier press into the new character (xdotool's
/// failure). So slots are remapped only in rounds: when every slot holds a character of this
/// action, the driver waits `grace` after the last key event and then remaps all slots at
/// once for the next distinct characters. Restoring at the end waits the same grace.
struct ScratchKeycodes {
    struct Slot {
        var keycode: KeyCode
        var keysym: KeySym
    }

    let grace: Duration
    private(set) var slots: [Slot] = []
    /// Empty keycodes available this action (taken from the keymap when the action starts).
    private var free: [KeyCode] = []
    var lastKeyEvent: ContinuousClock.Instant?
    private(set) var rounds = 0

    init(grace: Duration) {
        self.grace = grace
    }

    /// Starts an action with the empty keycodes of the current keymap.
    mutating func begin(emptyKeycodes: [KeyCode]) {
        if slots.isEmpty {
            free = emptyKeycodes
        }
        rounds = 0
    }

    func keycode(for keysym: KeySym) -> KeyCode? {
        slots.first(where: { $0.keysym == keysym })?.keycode
    }

    var capacity: Int { slots.count + free.count }

    /// Maps `keysym` to a free slot, if one is left.
    mutating func mapFree(_ keysym: KeySym, display: OpaquePointer) -> KeyCode? {
        guard let keycode = free.popLast() else { return nil }
        remap(keycode, to: keysym, display: display)
        slots.append(Slot(keycode: keycode, keysym: keysym))
        return keycode
    }

    /// The keysyms of the next round: `keysym`, then the next distinct ones from `upcoming`,
    /// as many as there are slots.
    func planRound(_ keysym: KeySym, upcoming: some Sequence<KeySym>) -> [KeySym] {
        var wanted: [KeySym] = [keysym]
        for next in upcoming where !wanted.contains(next) {
            if wanted.count == slots.count { break }
            wanted.append(next)
        }
        return wanted
    }

    /// Remaps the slots whose keysym is not wanted to the wanted keysyms not yet mapped.
    /// Call only after the grace has passed.
    mutating func remapRound(_ wanted: [KeySym], display: OpaquePointer) {
        rounds += 1
        let keep = Set(wanted)
        var missing = wanted.filter { want in !slots.contains(where: { $0.keysym == want }) }[...]
        for index in slots.indices where !keep.contains(slots[index].keysym) {
            guard let next = missing.popFirst() else { break }
            remap(slots[index].keycode, to: next, display: display)
            slots[index].keysym = next
        }
    }

    /// When the last key event's grace ends (nil when there was none).
    var graceDeadline: ContinuousClock.Instant? {
        lastKeyEvent.map { $0.advanced(by: grace) }
    }

    private func remap(_ keycode: KeyCode, to keysym: KeySym, display: OpaquePointer) {
        var syms: [KeySym] = [keysym, keysym, keysym, keysym]
        XChangeKeyboardMapping(display, Int32(keycode), Int32(syms.count), &syms, 1)
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
        for slot in slots {
            var none: [KeySym] = [0]
            XChangeKeyboardMapping(display, Int32(slot.keycode), 1, &none, 1)
            free.append(slot.keycode)
        }
        slots.removeAll()
        XSync(display, 0)
    }
}
