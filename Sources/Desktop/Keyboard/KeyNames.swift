import CX11

/// Resolves key names to X keysyms: the alias table (what people and language models
/// write), then any X keysym name, then any single character.
public enum KeyNames {
    /// Normalized alias → X keysym name. Normalizing lowercases and drops `-`, `_` and spaces,
    /// so `Page_Down`, `page-down` and `pagedown` are the same key.
    static let aliases: [String: String] = {
        var table: [String: String] = [:]
        func add(_ keysym: String, _ names: String...) {
            for name in names { table[name] = keysym }
        }
        add("Control_L", "ctrl", "control", "ctl", "lctrl", "leftctrl", "lcontrol", "leftcontrol", "ctrll", "controll")
        add("Control_R", "rctrl", "rightctrl", "rcontrol", "rightcontrol", "ctrlr", "controlr")
        add("Shift_L", "shift", "lshift", "leftshift", "shiftl")
        add("Shift_R", "rshift", "rightshift", "shiftr")
        add("Alt_L", "alt", "option", "opt", "lalt", "leftalt", "altl", "loption", "leftoption")
        add("Alt_R", "ralt", "rightalt", "altr", "roption", "rightoption")
        add("ISO_Level3_Shift", "altgr", "altgraph")
        add(
            "Super_L", "super", "cmd", "command", "meta", "win", "windows", "lsuper", "leftsuper", "lcmd", "leftcmd",
            "lcommand", "leftcommand", "lmeta", "leftmeta", "lwin", "leftwin", "lwindows", "leftwindows", "superl")
        add(
            "Super_R", "rsuper", "rightsuper", "rcmd", "rightcmd", "rcommand", "rightcommand", "rmeta", "rightmeta",
            "rwin", "rightwin", "rwindows", "rightwindows", "superr")
        add("Return", "enter", "return", "ret")
        add("KP_Enter", "kpenter", "numpadenter")
        add("Escape", "esc", "escape")
        add("Delete", "delete", "del")
        add("Insert", "insert", "ins")
        add("BackSpace", "backspace", "bksp", "bs")
        add("space", "space", "spacebar")
        add("Tab", "tab")
        add("Prior", "pageup", "pgup", "prior")
        add("Next", "pagedown", "pgdn", "pgdown", "next")
        add("Left", "left", "arrowleft", "leftarrow")
        add("Right", "right", "arrowright", "rightarrow")
        add("Up", "up", "arrowup", "uparrow")
        add("Down", "down", "arrowdown", "downarrow")
        add("Home", "home")
        add("End", "end")
        add("Caps_Lock", "capslock", "caps")
        add("Num_Lock", "numlock")
        add("Scroll_Lock", "scrolllock")
        add("Print", "print", "printscreen", "prtsc", "prtscr", "snapshot")
        add("Pause", "pause", "break")
        add("Menu", "menu", "apps", "contextmenu")
        for n in 1...24 { add("F\(n)", "f\(n)") }
        add("plus", "plus")
        add("minus", "minus")
        return table
    }()

    static func normalize(_ name: String) -> String {
        String(name.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
    }

    /// The keysym for `name`, or nil when nothing matches.
    public static func keysym(for name: String) -> KeySym? {
        if name.unicodeScalars.count == 1, let scalar = name.unicodeScalars.first {
            // Single characters: letters case-insensitively (shift is written explicitly).
            let lowered = Character(scalar).isLetter ? (name.lowercased().unicodeScalars.first ?? scalar) : scalar
            if lowered.value >= 0x20 && lowered.value != 0x7F {
                return Keysyms.keysym(for: lowered)
            }
        }
        if let alias = aliases[normalize(name)] {
            return XStringToKeysym(alias)
        }
        for candidate in [name, name.prefix(1).uppercased() + name.dropFirst()] {
            let keysym = XStringToKeysym(candidate)
            if keysym != 0 { return keysym }
        }
        return nil
    }

    /// Whether `keysym` is a modifier key (Shift, Control, Alt, Super, AltGr, …).
    static func isModifier(_ keysym: KeySym) -> Bool {
        (0xFFE1...0xFFEE).contains(keysym) || (0xFE01...0xFE0F).contains(keysym)
    }
}

/// Mapping between Unicode scalars and X keysyms.
enum Keysyms {
    static let returnKey: KeySym = 0xFF0D
    static let tab: KeySym = 0xFF09
    static let backSpace: KeySym = 0xFF08
    static let escape: KeySym = 0xFF1B
    static let shiftL: KeySym = 0xFFE1
    static let level3Shift: KeySym = 0xFE03

    /// The keysym that stands for `scalar`: Latin-1 keysyms equal their code point, every
    /// other character has the Unicode keysym `0x01000000 | code point`.
    static func keysym(for scalar: Unicode.Scalar) -> KeySym {
        let cp = scalar.value
        if (0x20...0x7E).contains(cp) || (0xA0...0xFF).contains(cp) { return KeySym(cp) }
        return KeySym(0x0100_0000 | cp)
    }

    /// Keysyms that may stand for `scalar` in a keymap, preferred first.
    static func candidates(for scalar: Unicode.Scalar) -> [KeySym] {
        let primary = keysym(for: scalar)
        var result = [primary]
        if primary < 0x100 { result.append(KeySym(0x0100_0000 | scalar.value)) }
        if let legacy = legacy[scalar.value] { result.append(legacy) }
        return result
    }

    /// Common legacy (pre-Unicode) keysyms that keymaps still use for characters people type.
    static let legacy: [UInt32: KeySym] = [
        0x20AC: 0x20AC,  // EuroSign
        0x2013: 0xAA9,  // endash
        0x2014: 0xAAA,  // emdash
        0x2026: 0xAAE,  // ellipsis
        0x201C: 0xAD2, 0x201D: 0xAD3, 0x2018: 0xAD0, 0x2019: 0xAD1,
        0x0141: 0x1A3, 0x0142: 0x1B3,  // Lstroke, lstroke
        0x0152: 0x13BC, 0x0153: 0x13BD,  // OE, oe
    ]
}
