import CX11
import CyberdeskAPI

/// Resolves key names to X keysyms: the alias table (what people and language models
/// write), then any X keysym name, then any single character.
public enum KeyNames {
    /// The keysym for `name`, or nil when nothing matches.
    public static func keysym(for name: String) -> KeySym? {
        // libX11 reads names as C strings: "BackSpace\0junk" would be BackSpace.
        guard !name.utf8.contains(0) else { return nil }
        if name.unicodeScalars.count == 1, let scalar = name.unicodeScalars.first {
            // Single characters: letters case-insensitively (shift is written explicitly).
            let lowered = Character(scalar).isLetter ? (name.lowercased().unicodeScalars.first ?? scalar) : scalar
            if lowered.value >= 0x20 && lowered.value != 0x7F {
                return Keysyms.keysym(for: lowered)
            }
        }
        if let alias = KeyVocabulary.aliases[KeyVocabulary.normalize(name)] {
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
