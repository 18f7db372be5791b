import CX11

#if canImport(Glibc)
    import Glibc
#endif

/// Borrowed keycodes for characters the keymap lacks. Each slot is an empty keycode that
/// carries one or two keysyms: the first on level 1, the second on level 2 (typed with
/// Shift), so the pool holds twice as many characters as there are empty keycodes.
///
/// A client translates a key event with the keymap it knows when it *processes* the event,
/// and it learns of a keymap change when it *reads* the notification, which a lagging client
/// does long before it processes the key events queued ahead of it. So a keycode that was
/// typed on is never changed (remapped or restored) until the clients that received those
/// key events have been seen to process them (`X11Desktop.catchUp`, README "Typing into
/// lagging applications"). Everything here keeps such changes rare:
/// - slots stay mapped after an action (lazy restore) and the next action reuses them; they
///   are restored after an idle period, at `releaseAllInputs` and at `close`;
/// - the first missing character maps the next distinct missing characters of the text onto
///   every free keycode at once (an empty keycode was never typed on, so mapping it needs no
///   wait);
/// - only when the text has more distinct missing characters than the pool holds are slots
///   remapped, keeping those still needed by the coming text, preferring slots not typed on
///   since the last confirmation.
struct ScratchKeycodes {
    /// Root window property listing the keycodes currently borrowed, so the next agent start
    /// can restore them after a crash (`X11Desktop.releaseAllInputs`).
    static let propertyName = "_CYBERDESK_BORROWED_KEYCODES"

    struct Slot {
        var keycode: KeyCode
        /// One or two keysyms: level 1, then level 2.
        var keysyms: [KeySym]
        /// Typed on since clients last confirmed they processed every key event: changing
        /// this keycode now could turn queued events into other characters.
        var typedSinceConfirmation = false
    }

    /// What `planReuse` decided: which slots get which keysyms.
    struct Reuse {
        var assignments: [(slot: Int, keysyms: [KeySym])]
        /// Whether a slot being changed was typed on since the last confirmation.
        var needsConfirmation: Bool
    }

    private(set) var slots: [Slot] = []
    /// Empty keycodes not used yet (taken from the keymap at the start of each action).
    private var free: [KeyCode] = []
    /// Whether level 2 can be reached (the keymap has a Shift key).
    private var levels = 2
    /// When the last key event of any action was sent.
    var lastKeyEvent: ContinuousClock.Instant?
    /// Slots remapped for other characters in the current action (the benchmark reports them).
    private(set) var rounds = 0

    init() {}

    var isEmpty: Bool { slots.isEmpty }
    var keycodes: [KeyCode] { slots.map(\.keycode) }
    var needsConfirmation: Bool { slots.contains { $0.typedSinceConfirmation } }

    /// Starts an action with the current keymap. Slots whose keycode no longer carries what
    /// was mapped on it (another client changed the keymap, or `cyberdesk-agent release`
    /// emptied it) are forgotten.
    mutating func begin(keymap: Keymap, hasShift: Bool, display: OpaquePointer) {
        let before = slots.count
        slots.removeAll { slot in
            guard let syms = keymap.trackedSymbols[slot.keycode], let first = syms.first else { return true }
            return slot.keysyms.count == 1
                ? syms.contains { $0 != first } || first != slot.keysyms[0]
                : Array(syms.prefix(2)) != slot.keysyms
        }
        if slots.count != before { Self.record(keycodes, display: display) }
        free = keymap.emptyKeycodes.reversed()
        levels = hasShift ? 2 : 1
        rounds = 0
    }

    /// Where `keysym` is mapped now: the keycode and the level (0 or 1).
    func place(of keysym: KeySym) -> (keycode: KeyCode, level: Int)? {
        for slot in slots {
            if let level = slot.keysyms.firstIndex(of: keysym), level < levels { return (slot.keycode, level) }
        }
        return nil
    }

    mutating func markTyped(_ keycode: KeyCode) {
        if let index = slots.firstIndex(where: { $0.keycode == keycode }) { slots[index].typedSinceConfirmation = true }
    }

    /// Every client has processed the key events sent so far.
    mutating func confirmed() {
        for index in slots.indices { slots[index].typedSinceConfirmation = false }
    }

    /// Maps `keysym` and the next distinct keysyms of `upcoming` onto keycodes that are still
    /// empty, without touching any slot already mapped. Nil when none is free.
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
        var taken: [Slot] = []
        while !rest.isEmpty, let keycode = free.popLast() {
            let take = Array(rest.prefix(levels))
            rest = rest.dropFirst(take.count)
            taken.append(Slot(keycode: keycode, keysyms: take))
        }
        slots += taken
        // Recorded before the keymap changes, so a crash between the two leaves no trace.
        Self.record(keycodes, display: display)
        for slot in taken { remap(slot, display: display) }
        return place(of: keysym)
    }

    /// Plans the next round when every slot is taken: `keysym` and the next distinct keysyms
    /// of `upcoming`, as many as the pool holds. Slots whose keysyms are all still needed
    /// stay; the others take the needed keysyms not placed yet, slots not typed on since the
    /// last confirmation first (changing those needs no wait).
    func planReuse(_ keysym: KeySym, upcoming: some Sequence<KeySym>) -> Reuse {
        let capacity = slots.count * levels
        var needed: [KeySym] = [keysym]
        var neededSet: Set<KeySym> = [keysym]
        for next in upcoming where !neededSet.contains(next) {
            if needed.count == capacity { break }
            needed.append(next)
            neededSet.insert(next)
        }
        var kept: Set<KeySym> = []
        var evictable: [Int] = []
        for (index, slot) in slots.enumerated() {
            if slot.keysyms.allSatisfy(neededSet.contains), slot.keysyms.count <= levels {
                kept.formUnion(slot.keysyms)
            } else {
                evictable.append(index)
            }
        }
        // Clean slots first; among equals keep the order (the earliest mapped first).
        evictable.sort { !slots[$0].typedSinceConfirmation && slots[$1].typedSinceConfirmation }
        var rest = needed.filter { !kept.contains($0) }[...]
        var assignments: [(slot: Int, keysyms: [KeySym])] = []
        for index in evictable where !rest.isEmpty {
            let take = Array(rest.prefix(levels))
            rest = rest.dropFirst(take.count)
            assignments.append((index, take))
        }
        if assignments.first?.keysyms.contains(keysym) != true {
            // Every slot holds needed keysyms but not full levels: start the round afresh.
            assignments = stride(from: 0, to: needed.count, by: levels).enumerated().map { slot, start in
                (slot, Array(needed[start..<min(start + levels, needed.count)]))
            }
        }
        return Reuse(
            assignments: assignments,
            needsConfirmation: assignments.contains { slots[$0.slot].typedSinceConfirmation })
    }

    /// Maps a planned round. Call only once the slots it changes are confirmed.
    mutating func apply(_ reuse: Reuse, display: OpaquePointer) {
        rounds += 1
        for (index, keysyms) in reuse.assignments {
            slots[index].keysyms = keysyms
            slots[index].typedSinceConfirmation = false
            remap(slots[index], display: display)
        }
    }

    private func remap(_ slot: Slot, display: OpaquePointer) {
        // One keysym: the same on every level, so Shift cannot change it. Two: levels 1 and 2.
        var syms: [KeySym] = slot.keysyms.count == 1 ? Array(repeating: slot.keysyms[0], count: 4) : slot.keysyms
        XChangeKeyboardMapping(display, Int32(slot.keycode), Int32(syms.count), &syms, 1)
    }

    /// Returns every slot to empty. Call only once the clients are confirmed (or on paths
    /// where waiting longer is not possible).
    mutating func restoreAll(display: OpaquePointer) {
        guard !slots.isEmpty else { return }
        Self.clear(keycodes, display: display)
        free.append(contentsOf: keycodes)
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
