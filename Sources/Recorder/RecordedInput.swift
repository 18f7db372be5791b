import CyberdeskAPI
import Desktop

/// Modifiers in effect when a key was pressed (XKB's effective state, before the key acts).
public struct KeyModifiers: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let shift = KeyModifiers(rawValue: 1 << 0)
    public static let ctrl = KeyModifiers(rawValue: 1 << 1)
    public static let alt = KeyModifiers(rawValue: 1 << 2)
    public static let `super` = KeyModifiers(rawValue: 1 << 3)

    /// The modifiers that make a key a chord rather than typed text.
    public static let chordMakers: KeyModifiers = [.ctrl, .alt, .super]

    /// xdotool names, in the order a chord lists them (`ctrl+alt+shift+super+…`).
    var chordNames: [String] {
        var names: [String] = []
        if contains(.ctrl) { names.append("ctrl") }
        if contains(.alt) { names.append("alt") }
        if contains(.shift) { names.append("shift") }
        if contains(.super) { names.append("super") }
        return names
    }
}

/// One key event with what it meant under the keymap at that moment (`KeyResolver`).
public struct KeyInput: Sendable, Hashable {
    /// Server time in milliseconds (unwrapped: it does not wrap at 2³²).
    public var time: Int64
    public var keycode: UInt8
    public var isPress: Bool
    /// The key's name for a chord in xdotool syntax: its level-1 keysym in the active group,
    /// with the aliases people write (`enter`, `esc`, `pagedown`, `f5`, `a`, `udiaeresis`).
    public var name: String
    /// The characters the press typed (Shift, AltGr and Caps Lock levels and compose
    /// sequences applied), empty when it typed none: a modifier, a named key such as Return,
    /// a dead key waiting for the next key, or a release.
    public var text: String
    /// Modifiers in effect when it was pressed.
    public var modifiers: KeyModifiers
    /// Shift, Control, Alt, Super, AltGr and lock keys: never steps of their own.
    public var isModifier: Bool
    /// A dead key or a key inside a compose sequence: its text comes with a later key.
    public var isComposing: Bool

    public init(
        time: Int64, keycode: UInt8, isPress: Bool, name: String, text: String = "", modifiers: KeyModifiers = [],
        isModifier: Bool = false, isComposing: Bool = false
    ) {
        self.time = time
        self.keycode = keycode
        self.isPress = isPress
        self.name = name
        self.text = text
        self.modifiers = modifiers
        self.isModifier = isModifier
        self.isComposing = isComposing
    }
}

/// One pointer button event (core buttons: 1–3 are clicks, 4–7 wheel steps).
public struct ButtonInput: Sendable, Hashable {
    public var time: Int64
    public var button: Int
    public var isPress: Bool
    public var point: Point

    public init(time: Int64, button: Int, isPress: Bool, point: Point) {
        self.time = time
        self.button = button
        self.isPress = isPress
        self.point = point
    }
}

/// What the recorder hands the coalescer, in server order.
public enum RecordedInput: Sendable, Hashable {
    case key(KeyInput)
    case button(ButtonInput)
    case motion(time: Int64, point: Point)

    public var time: Int64 {
        switch self {
        case .key(let key): key.time
        case .button(let button): button.time
        case .motion(let time, _): time
        }
    }
}
