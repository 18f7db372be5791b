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
    mutating func mapFree(_ keysym: KeySym, upcoming: some Sequence<KeySym>, display: OpaquePointer) -> (keycode: KeyCode, level: Int)? {
        guard !free.isEmpty else { return nil }
        var wanted: [KeySym] = [keysym]
        for next in upcoming where !wanted.contains(next) && place(of: next) == nil {
            if wanted.count == free.count * levels { break }
            wanted.append(next)
        }
        var rest = wanted[...]
        while !rest.isEmpty, let keycode = free.popLast() {
            let take = Array(rest.prefix(levels))
            rest = rest.dropFirst(take.count)
            slots.append(Slot(keycode: keycode, keysyms: take))
            remap(slots[slots.count - 1], display: display)
        }
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
        for slot in slots {
            var none: [KeySym] = [0]
            XChangeKeyboardMapping(display, Int32(slot.keycode), 1, &none, 1)
            free.append(slot.keycode)
        }
        slots.removeAll()
        XSync(display, 0)
    }
}
