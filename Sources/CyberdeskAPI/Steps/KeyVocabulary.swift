/// Key names as the desktop library resolves them (`Desktop.KeyNames`), without X11: the
/// alias table both use, the chord syntax both read, and a check the server runs on `key`
/// steps when a trajectory is written, so a misspelt key is refused then rather than
/// failing a run half-way.
public enum KeyVocabulary {
    /// Normalized alias → X keysym name. Normalizing lowercases and drops `-`, `_` and spaces,
    /// so `Page_Down`, `page-down` and `pagedown` are the same key.
    public static let aliases: [String: String] = {
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

    public static func normalize(_ name: String) -> String {
        String(name.lowercased().filter { $0 != "-" && $0 != "_" && $0 != " " })
    }

    /// Whether the agent resolves `name` on any X server: a single character (not a control
    /// character), an alias, an X keysym name of `keysymdef.h` or `XF86keysym.h` (also with
    /// its first letter capitalized, as the agent retries), or the `U20AC` and `0x20ac` forms.
    public static func isKnown(_ name: String) -> Bool {
        if name.unicodeScalars.count == 1, let scalar = name.unicodeScalars.first {
            let lowered = Character(scalar).isLetter ? (name.lowercased().unicodeScalars.first ?? scalar) : scalar
            if lowered.value >= 0x20 && lowered.value != 0x7F { return true }
        }
        if aliases[normalize(name)] != nil { return true }
        for candidate in [name, name.prefix(1).uppercased() + name.dropFirst()] {
            if KeysymNames.all.contains(Substring(candidate)) || isNumericKeysym(candidate) { return true }
        }
        return false
    }

    /// `U` and hex digits of a printable code point, or `0x` and hex digits: the
    /// numeric forms `XStringToKeysym` accepts.
    static func isNumericKeysym(_ name: String) -> Bool {
        func hex(_ digits: Substring) -> UInt64? {
            guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy(\.isHexDigit) else { return nil }
            return UInt64(digits, radix: 16)
        }
        if name.hasPrefix("U"), let value = hex(name.dropFirst()) {
            return (0x20...0x7E).contains(value) || (0xA0...0x10FFFF).contains(value)
        }
        if name.hasPrefix("0x"), let value = hex(name.dropFirst(2)) { return value != 0 }
        return false
    }

    /// Why a chord text cannot be read.
    public struct ChordProblem: Error, Sendable, Equatable {
        /// The chord (or the whole text) at fault.
        public var text: String
        public var reason: String
    }

    /// xdotool syntax: `+` joins keys pressed together, whitespace separates chords pressed
    /// one after another (`ctrl+a ctrl+c`, `tab tab enter`, `ctrl++`). Each chord's key names
    /// in press order.
    public static func chords(_ text: String) throws(ChordProblem) -> [[String]] {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard !tokens.isEmpty else { throw ChordProblem(text: text, reason: "no key names given") }
        var chords: [[String]] = []
        for token in tokens {
            var parts = token.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
            // A literal plus key: "+" alone, or "ctrl++" (two empty parts at the end).
            if parts.count >= 2, parts[parts.count - 1].isEmpty, parts[parts.count - 2].isEmpty {
                parts.removeLast(2)
                parts.append("+")
            }
            if parts.contains(where: \.isEmpty) {
                throw ChordProblem(text: String(token), reason: "empty key name (a '+' with nothing after it?)")
            }
            chords.append(parts)
        }
        return chords
    }
}
