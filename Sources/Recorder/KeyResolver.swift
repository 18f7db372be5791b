import CX11
import CXKBCommon

#if canImport(Glibc)
    import Glibc
#endif

/// What a recorded key event meant: an XKB keyboard state machine (libxkbcommon) fed with
/// every recorded key press and release, on the keymap read from the X server.
///
/// Why libxkbcommon rather than Xlib's `XLookupString` with the event's state: XRecord hands
/// over device events whose state field is not reliable for our purpose (a fast XTest client
/// presses Shift, the key and releases Shift before the recorder sees the first of them, so
/// asking the server for its state afterwards is too late), and Xlib implements no compose
/// (its `XComposeStatus` is a stub; dead keys need an input method and a window). The state
/// machine follows modifiers, latches, locks and the group exactly as the server does, from
/// the events themselves, and `xkb_compose` turns dead-key sequences into their characters.
///
/// Not thread-safe: owned by the capture thread, as the Display it reads the keymap through.
final class KeyResolver {
    private let display: OpaquePointer
    private let context: OpaquePointer
    private var keymap: OpaquePointer
    private var state: OpaquePointer
    private let compose: OpaquePointer?
    private let deviceID: Int32
    /// Keycodes down now, to carry held modifiers into a reloaded keymap.
    private var held: Set<UInt8> = []
    /// Keycodes whose keysyms a client set with the core `ChangeKeyboardMapping`, as of the
    /// recorded stream's position (not the server's present): they win over the keymap.
    private var overlay: [UInt8: [UInt32]] = [:]
    /// The XKB extension's first event code (events of type `xkbEventBase` are XKB events).
    let xkbEventBase: Int32

    init(display: OpaquePointer) throws(RecorderError) {
        self.display = display
        guard let connection = cxkb_xcb_connection(display) else {
            throw .keymapUnavailable("the Xlib display has no XCB connection")
        }
        var eventBase: UInt8 = 0
        guard
            xkb_x11_setup_xkb_extension(
                connection, UInt16(XKB_X11_MIN_MAJOR_XKB_VERSION), UInt16(XKB_X11_MIN_MINOR_XKB_VERSION),
                XKB_X11_SETUP_XKB_EXTENSION_NO_FLAGS, nil, nil, &eventBase, nil) == 1
        else { throw .keymapUnavailable("the X server lacks XKB 1.0") }
        xkbEventBase = Int32(eventBase)
        guard let context = xkb_context_new(XKB_CONTEXT_NO_FLAGS) else {
            throw .keymapUnavailable("xkb_context_new failed")
        }
        self.context = context
        deviceID = xkb_x11_get_core_keyboard_device_id(connection)
        guard deviceID >= 0 else {
            xkb_context_unref(context)
            throw .keymapUnavailable("no core keyboard device")
        }
        guard let (keymap, state) = Self.load(context: context, display: display, deviceID: deviceID) else {
            xkb_context_unref(context)
            throw .keymapUnavailable("the server's keymap could not be compiled")
        }
        self.keymap = keymap
        self.state = state
        compose = Self.composeState(context: context)
    }

    deinit {
        if let compose { xkb_compose_state_unref(compose) }
        xkb_state_unref(state)
        xkb_keymap_unref(keymap)
        xkb_context_unref(context)
    }

    /// A keymap and a state that starts with the server's locks and latches (Caps Lock on,
    /// the active group) but no pressed modifiers: keys down before the recording began send
    /// their releases later, and a state that counted them pressed would keep them forever.
    private static func load(context: OpaquePointer, display: OpaquePointer, deviceID: Int32)
        -> (OpaquePointer, OpaquePointer)?
    {
        guard let connection = cxkb_xcb_connection(display),
            let keymap = xkb_x11_keymap_new_from_device(context, connection, deviceID, XKB_KEYMAP_COMPILE_NO_FLAGS)
        else { return nil }
        guard let state = xkb_state_new(keymap) else {
            xkb_keymap_unref(keymap)
            return nil
        }
        var server = XkbStateRec()
        if XkbGetState(display, UInt32(XkbUseCoreKbd), &server) == 0 {
            xkb_state_update_mask(
                state, 0, UInt32(server.latched_mods), UInt32(server.locked_mods), 0, UInt32(server.latched_group),
                UInt32(server.locked_group))
        }
        return (keymap, state)
    }

    /// Compose sequences of the user's locale (`LC_ALL`, `LC_CTYPE`, `LANG`), falling back to
    /// en_US.UTF-8's table, which has every dead-key sequence of the common layouts.
    private static func composeState(context: OpaquePointer) -> OpaquePointer? {
        var locales: [String] = []
        for name in ["LC_ALL", "LC_CTYPE", "LANG"] {
            if let value = getenv(name).map({ String(cString: $0) }), !value.isEmpty {
                locales.append(value)
                break
            }
        }
        locales.append("en_US.UTF-8")
        for locale in locales where locale != "C" && locale != "POSIX" {
            if let table = xkb_compose_table_new_from_locale(context, locale, XKB_COMPOSE_COMPILE_NO_FLAGS) {
                defer { xkb_compose_table_unref(table) }
                return xkb_compose_state_new(table, XKB_COMPOSE_STATE_NO_FLAGS)
            }
        }
        return nil
    }

    /// A core `ChangeKeyboardMapping` seen in the recorded stream: from here on, `keycode`
    /// means `keysyms` (levels 1, 2, … of group 1; all NoSymbol: nothing).
    func applyCoreMapping(keycode: UInt8, keysyms: [UInt32]) {
        overlay[keycode] = keysyms
    }

    /// Reads the keymap again (a layout or mapping change), keeping held modifiers and locks.
    /// A new keyboard (a layout switch) also ends the core mappings seen so far.
    func reload(newKeyboard: Bool = false) {
        if newKeyboard { overlay.removeAll() }
        guard let (keymap, state) = Self.load(context: context, display: display, deviceID: deviceID) else { return }
        xkb_state_unref(self.state)
        xkb_keymap_unref(self.keymap)
        self.keymap = keymap
        self.state = state
        for keycode in held.sorted() { xkb_state_update_key(state, UInt32(keycode), XKB_KEY_DOWN) }
        if let compose { xkb_compose_state_reset(compose) }
    }

    /// The meaning of one recorded key event; updates the state with it.
    func resolve(keycode: UInt8, isPress: Bool, time: Int64) -> KeyInput {
        if let keysyms = overlay[keycode] { return resolve(keycode: keycode, keysyms: keysyms, isPress: isPress, time: time) }
        let key = UInt32(keycode)
        let layout = xkb_state_key_get_layout(state, key)
        var baseSyms: UnsafePointer<xkb_keysym_t>?
        let count = xkb_keymap_key_get_syms_by_level(keymap, key, layout, 0, &baseSyms)
        let base: xkb_keysym_t = count > 0 ? baseSyms?[0] ?? 0 : 0
        let name = Self.chordName(base)
        let isModifier = Self.isModifier(base)
        guard isPress else {
            xkb_state_update_key(state, key, XKB_KEY_UP)
            held.remove(keycode)
            return KeyInput(time: time, keycode: keycode, isPress: false, name: name, isModifier: isModifier)
        }
        var modifiers: KeyModifiers = []
        let names: [(String, KeyModifiers)] = [
            (XKB_MOD_NAME_SHIFT, .shift), (XKB_MOD_NAME_CTRL, .ctrl), (XKB_MOD_NAME_ALT, .alt),
            (XKB_MOD_NAME_LOGO, .super),
        ]
        for (mod, flag) in names
        where xkb_state_mod_name_is_active(state, mod, XKB_STATE_MODS_EFFECTIVE) > 0 {
            modifiers.insert(flag)
        }
        let sym = xkb_state_key_get_one_sym(state, key)
        var text = ""
        var composing = false
        if !isModifier, let compose, modifiers.isDisjoint(with: KeyModifiers.chordMakers) {
            xkb_compose_state_feed(compose, sym)
            switch xkb_compose_state_get_status(compose) {
            case XKB_COMPOSE_COMPOSING:
                composing = true
            case XKB_COMPOSE_COMPOSED:
                text = Self.string { xkb_compose_state_get_utf8(compose, $0, $1) }
                xkb_compose_state_reset(compose)
            case XKB_COMPOSE_CANCELLED:
                // A sequence that leads nowhere types nothing, as in GTK and Qt.
                xkb_compose_state_reset(compose)
                composing = true
            default:
                text = Self.string { xkb_state_key_get_utf8(state, key, $0, $1) }
            }
        } else if !isModifier {
            text = Self.string { xkb_state_key_get_utf8(state, key, $0, $1) }
        }
        // Control characters (Return, Tab, BackSpace, Escape, Ctrl+letter) are named keys.
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { text = "" }
        xkb_state_update_key(state, key, XKB_KEY_DOWN)
        held.insert(keycode)
        return KeyInput(
            time: time, keycode: keycode, isPress: true, name: name, text: text, modifiers: modifiers,
            isModifier: isModifier, isComposing: composing)
    }

    /// A key a client mapped with the core protocol: level 2 with Shift when it has one, else
    /// level 1 (the core rule); modifiers from the state machine, which the key leaves alone.
    private func resolve(keycode: UInt8, keysyms: [UInt32], isPress: Bool, time: Int64) -> KeyInput {
        let base = keysyms.first ?? 0
        let name = Self.chordName(base)
        let isModifier = Self.isModifier(base)
        guard isPress else {
            held.remove(keycode)
            return KeyInput(time: time, keycode: keycode, isPress: false, name: name, isModifier: isModifier)
        }
        var modifiers: KeyModifiers = []
        let names: [(String, KeyModifiers)] = [
            (XKB_MOD_NAME_SHIFT, .shift), (XKB_MOD_NAME_CTRL, .ctrl), (XKB_MOD_NAME_ALT, .alt),
            (XKB_MOD_NAME_LOGO, .super),
        ]
        for (mod, flag) in names
        where xkb_state_mod_name_is_active(state, mod, XKB_STATE_MODS_EFFECTIVE) > 0 {
            modifiers.insert(flag)
        }
        let shifted = modifiers.contains(.shift) && keysyms.count > 1 && keysyms[1] != 0
        let sym = shifted ? keysyms[1] : base
        var text = isModifier ? "" : Self.string { xkb_keysym_to_utf8(sym, $0, $1) }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { text = "" }
        held.insert(keycode)
        return KeyInput(
            time: time, keycode: keycode, isPress: true, name: name, text: text, modifiers: modifiers,
            isModifier: isModifier, isComposing: false)
    }

    private static func string(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let length = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard length > 0 else { return "" }
        return String(cString: buffer)
    }

    static func isModifier(_ sym: xkb_keysym_t) -> Bool {
        // Shift, Control, Caps/Shift Lock, Meta, Alt, Super, Hyper; ISO level and group keys;
        // Mode_switch, Num_Lock.
        (0xFFE1...0xFFEE).contains(sym) || (0xFE01...0xFE0F).contains(sym) || sym == 0xFF7E || sym == 0xFF7F
    }

    /// xdotool's name for a key, as people write it (`KeyVocabulary` reads them all back).
    static func chordName(_ sym: xkb_keysym_t) -> String {
        guard sym != 0 else { return "" }
        var buffer = [CChar](repeating: 0, count: 64)
        guard xkb_keysym_get_name(sym, &buffer, buffer.count) > 0 else { return "" }
        let name = String(cString: buffer)
        if let alias = friendly[name] { return alias }
        if name.hasPrefix("F"), let number = Int(name.dropFirst()), (1...35).contains(number) { return "f\(number)" }
        return name
    }

    private static let friendly: [String: String] = [
        "Return": "enter", "Escape": "esc", "BackSpace": "backspace", "Tab": "tab", "ISO_Left_Tab": "tab",
        "Delete": "delete", "Insert": "insert", "Prior": "pageup", "Next": "pagedown", "Left": "left",
        "Right": "right", "Up": "up", "Down": "down", "Home": "home", "End": "end", "space": "space",
        "Menu": "menu", "Print": "print", "Pause": "pause", "Caps_Lock": "capslock", "Num_Lock": "numlock",
        "KP_Enter": "kpenter", "Control_L": "ctrl", "Control_R": "rctrl", "Alt_L": "alt", "Alt_R": "ralt",
        "Shift_L": "shift", "Shift_R": "rshift", "Super_L": "super", "Super_R": "rsuper",
        "ISO_Level3_Shift": "altgr",
    ]
}
