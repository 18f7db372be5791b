import CX11

/// How to produce one keysym: press `modifiers` (by their keys), then `keycode`.
struct KeyStroke: Equatable {
    var keycode: KeyCode
    var modifiers: UInt32
}

/// The keysym → key table of the active XKB group, built from the server's keymap at the
/// start of each keyboard action (one round trip), so layout switches are always seen.
struct Keymap {
    var strokes: [KeySym: KeyStroke] = [:]
    /// Key that sets each modifier mask we may need for a level (Shift, the Level3 mask).
    var modifierKeys: [UInt32: KeyCode] = [:]
    /// Keycodes with no keysym at all: the pool for characters missing from the keymap.
    var emptyKeycodes: [KeyCode] = []
    /// Every keycode that sets any modifier (used to neutralize held modifiers).
    var modifierKeycodes: Set<KeyCode> = []
    var group: Int32 = 0
    /// The keysyms (levels of the active group) of the keycodes asked for in `load`: the
    /// borrowed keycodes, whose characters are typed through `ScratchKeycodes`, never
    /// through `strokes`, since a later round may change them within the action.
    var trackedSymbols: [KeyCode: [KeySym]] = [:]

    static func load(display: OpaquePointer, tracking: [KeyCode] = []) throws -> Keymap {
        guard let xkb = XkbGetMap(display, cx11_xkb_all_client_info_mask(), UInt32(XkbUseCoreKbd)) else {
            throw DesktopError.extensionMissing("XKEYBOARD (XkbGetMap failed)")
        }
        defer { XkbFreeKeyboard(xkb, 0, 1) }
        var state = XkbStateRec()
        XkbGetState(display, UInt32(XkbUseCoreKbd), &state)
        var keymap = Keymap()
        keymap.group = Int32(state.group)

        // Which real modifier each modifier key sets, from the core modifier map.
        var maskOfKeycode: [KeyCode: UInt32] = [:]
        if let modmap = XGetModifierMapping(display) {
            let perModifier = Int(modmap.pointee.max_keypermod)
            for modifier in 0..<8 {
                for k in 0..<perModifier {
                    let keycode = modmap.pointee.modifiermap[modifier * perModifier + k]
                    if keycode != 0 {
                        maskOfKeycode[keycode, default: 0] |= UInt32(1) << UInt32(modifier)
                        keymap.modifierKeycodes.insert(keycode)
                    }
                }
            }
            XFreeModifiermap(modmap)
        }

        let minKeycode = Int(xkb.pointee.min_key_code)
        let maxKeycode = Int(xkb.pointee.max_key_code)
        // First pass: find the keys for Shift and Level3 so levels can be reached.
        var shiftKey: KeyCode?
        var level3Key: KeyCode?
        var level3Mask: UInt32 = 0
        for keycode in minKeycode...maxKeycode {
            let kc = KeyCode(keycode)
            let groups = Int(cx11_xkb_key_num_groups(xkb, kc))
            guard groups > 0 else { continue }
            let sym = cx11_xkb_key_sym_entry(xkb, kc, 0, 0)
            if sym == Keysyms.shiftL, shiftKey == nil { shiftKey = kc }
            if sym == Keysyms.level3Shift, level3Key == nil, let mask = maskOfKeycode[kc] {
                level3Key = kc
                level3Mask = mask
            }
        }
        if let shiftKey { keymap.modifierKeys[UInt32(ShiftMask)] = shiftKey }
        if let level3Key { keymap.modifierKeys[level3Mask] = level3Key }
        let reachable = (shiftKey != nil ? UInt32(ShiftMask) : 0) | level3Mask

        for keycode in minKeycode...maxKeycode {
            let kc = KeyCode(keycode)
            let groups = Int32(cx11_xkb_key_num_groups(xkb, kc))
            if groups == 0 || allNoSymbol(xkb, kc, groups: groups) {
                keymap.emptyKeycodes.append(kc)
                continue
            }
            let group = effectiveGroup(keymap.group, groups: groups, info: cx11_xkb_key_group_info(xkb, kc))
            if tracking.contains(kc) {
                keymap.trackedSymbols[kc] = (0..<cx11_xkb_key_group_width(xkb, kc, group)).map {
                    cx11_xkb_key_sym_entry(xkb, kc, $0, group)
                }
                continue
            }
            guard let type = cx11_xkb_key_key_type(xkb, kc, group) else { continue }
            let width = cx11_xkb_key_group_width(xkb, kc, group)
            for level in 0..<width {
                let sym = cx11_xkb_key_sym_entry(xkb, kc, level, group)
                guard sym != 0, let mods = modifiers(forLevel: Int(level), type: type.pointee, reachable: reachable)
                else { continue }
                let stroke = KeyStroke(keycode: kc, modifiers: mods)
                if let existing = keymap.strokes[sym], !better(stroke, than: existing, keymap: keymap) { continue }
                keymap.strokes[sym] = stroke
            }
        }
        return keymap
    }

    private static func allNoSymbol(_ xkb: XkbDescPtr, _ kc: KeyCode, groups: Int32) -> Bool {
        for group in 0..<groups {
            for level in 0..<cx11_xkb_key_group_width(xkb, kc, group)
            where cx11_xkb_key_sym_entry(xkb, kc, level, group) != 0 {
                return false
            }
        }
        return true
    }

    /// The group a key uses when the keyboard's effective group is `group`, following the
    /// key's out-of-range rule (wrap, clamp or redirect).
    private static func effectiveGroup(_ group: Int32, groups: Int32, info: Int32) -> Int32 {
        guard group >= groups else { return group }
        switch cx11_xkb_out_of_range_group_info(info) {
        case Int32(XkbClampIntoRange): return groups - 1
        case Int32(XkbRedirectIntoRange):
            let target = cx11_xkb_out_of_range_group_number(info)
            return target < groups ? target : 0
        default: return group % groups
        }
    }

    /// The modifier mask that selects `level` in `type`, using only modifiers we can press.
    private static func modifiers(forLevel level: Int, type: XkbKeyTypeRec, reachable: UInt32) -> UInt32? {
        if level == 0 { return 0 }
        var best: UInt32?
        for i in 0..<Int(type.map_count) {
            let entry = type.map[i]
            guard entry.active != 0, Int(entry.level) == level else { continue }
            let mask = UInt32(entry.mods.mask)
            guard mask & ~reachable == 0 else { continue }
            if best == nil || mask.nonzeroBitCount < best!.nonzeroBitCount { best = mask }
        }
        return best
    }

    /// Prefers fewer modifiers, then the lower keycode (main block over keypad).
    private static func better(_ a: KeyStroke, than b: KeyStroke, keymap: Keymap) -> Bool {
        let am = a.modifiers.nonzeroBitCount
        let bm = b.modifiers.nonzeroBitCount
        if am != bm { return am < bm }
        return a.keycode < b.keycode
    }
}
