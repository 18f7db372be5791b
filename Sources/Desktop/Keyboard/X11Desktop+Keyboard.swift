import CX11

extension X11Desktop {
    /// One key of a typing plan: a key on the keymap, or a keysym that needs a scratch slot.
    enum PlannedKey {
        case stroke(KeyStroke)
        case scratch(KeySym)
    }

    /// Keyboard state that an action neutralizes and restores afterwards.
    struct SavedModifiers {
        var locked: UInt32 = 0
        /// Modifier keys held through XTest that were released for the action.
        var released: [KeyCode] = []
    }

    // MARK: - Typing

    public func type(_ text: String, options: TypingOptions = .fast) async throws {
        let keysyms = try Self.typingKeysyms(text)
        guard !keysyms.isEmpty else { return }
        try await withKeyboard(neutralize: true) { keymap in
            let plan = keysyms.map { candidates -> PlannedKey in
                for keysym in candidates {
                    if let stroke = keymap.strokes[keysym] { return .stroke(stroke) }
                }
                return .scratch(candidates[0])
            }
            var levelModifiers: UInt32 = 0
            for index in plan.indices {
                try Task.checkCancellation()
                let stroke: KeyStroke
                switch plan[index] {
                case .stroke(let known):
                    stroke = known
                case .scratch(let keysym):
                    let upcoming = plan[(index + 1)...].lazy.compactMap { item -> KeySym? in
                        if case .scratch(let next) = item { return next }
                        return nil
                    }
                    stroke = try await scratchStroke(for: keysym, upcoming: upcoming)
                }
                setLevelModifiers(stroke.modifiers, current: &levelModifiers, keymap: keymap)
                fakeKey(stroke.keycode, down: true)
                fakeKey(stroke.keycode, down: false)
                if case .scratch = plan[index] { scratch.markTyped(stroke.keycode) }
                scratch.lastKeyEvent = .now
                if options.perKeyDelay > .zero {
                    XFlush(display)
                    try await Task.sleep(for: options.perKeyDelay)
                }
            }
            setLevelModifiers(0, current: &levelModifiers, keymap: keymap)
        }
    }

    /// Keysym candidates for each character; control characters other than newline, tab,
    /// backspace and escape are rejected before anything is pressed.
    static func typingKeysyms(_ text: String) throws -> [[KeySym]] {
        var result: [[KeySym]] = []
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            defer { previousWasCR = scalar == "\r" }
            switch scalar.value {
            case 0x0A:
                if previousWasCR { continue }  // "\r\n" is one Return
                result.append([Keysyms.returnKey])
            case 0x0D: result.append([Keysyms.returnKey])
            case 0x09: result.append([Keysyms.tab])
            case 0x08: result.append([Keysyms.backSpace])
            case 0x1B: result.append([Keysyms.escape])
            case 0..<0x20, 0x7F...0x9F: throw DesktopError.unsupportedCharacter(scalar)
            default: result.append(Keysyms.candidates(for: scalar))
            }
        }
        return result
    }

    /// Presses or releases the level modifiers (Shift, AltGr) so exactly `wanted` are held.
    func setLevelModifiers(_ wanted: UInt32, current: inout UInt32, keymap: Keymap) {
        guard wanted != current else { return }
        for (mask, keycode) in keymap.modifierKeys.sorted(by: { $0.key < $1.key }) {
            let want = wanted & mask == mask
            let have = current & mask == mask
            if want != have { fakeKey(keycode, down: want) }
        }
        current = wanted
    }

    /// A key for a keysym missing from the keymap, on a borrowed keycode. When every borrowed
    /// keycode is taken, slots typed on are remapped only after the clients confirmed they
    /// processed those key events (see `ScratchKeycodes`, `catchUp`).
    func scratchStroke(for keysym: KeySym, upcoming: some Collection<KeySym>) async throws -> KeyStroke {
        func stroke(_ place: (keycode: KeyCode, level: Int)) -> KeyStroke {
            KeyStroke(keycode: place.keycode, modifiers: place.level == 1 ? UInt32(ShiftMask) : 0)
        }
        noteScratchReceiver()
        if let place = scratch.place(of: keysym) { return stroke(place) }
        if let place = scratch.mapFree(keysym, upcoming: upcoming, display: display) { return stroke(place) }
        guard !scratch.isEmpty else { throw DesktopError.noScratchKeycode }
        let reuse = scratch.planReuse(keysym, upcoming: upcoming)
        if reuse.needsConfirmation {
            await catchUp(deadline: ContinuousClock.now.advanced(by: configuration.catchUpLimit), cancellable: true)
            try Task.checkCancellation()
        }
        scratch.apply(reuse, display: display)
        guard let place = scratch.place(of: keysym) else { throw DesktopError.noScratchKeycode }
        return stroke(place)
    }

    // MARK: - Key chords

    public func key(_ chords: String, action: KeyAction = .tap) async throws {
        let parsed = try KeyChord.parse(chords)
        // Resolve every name before pressing anything: an unknown name presses nothing.
        let resolved: [[KeySym]] = try parsed.map { chord in
            try chord.keys.map { name in
                guard let keysym = KeyNames.keysym(for: name) else {
                    throw DesktopError.unknownKey(name: name, chord: chords)
                }
                return keysym
            }
        }
        try await withKeyboard(neutralize: false) { keymap in
            switch action {
            case .tap:
                for chord in resolved {
                    try Task.checkCancellation()
                    var pressed: [KeyCode] = []
                    for keysym in chord {
                        let stroke = try await chordStroke(keysym, keymap: keymap)
                        if !KeyNames.isModifier(keysym) {
                            for (mask, keycode) in keymap.modifierKeys.sorted(by: { $0.key < $1.key })
                            where stroke.modifiers & mask == mask && !pressed.contains(keycode) {
                                fakeKey(keycode, down: true)
                                pressed.append(keycode)
                            }
                        }
                        fakeKey(stroke.keycode, down: true)
                        pressed.append(stroke.keycode)
                        if keymap.strokes[keysym] == nil { scratch.markTyped(stroke.keycode) }
                    }
                    for keycode in pressed.reversed() { fakeKey(keycode, down: false) }
                    scratch.lastKeyEvent = .now
                }
            case .down:
                for keysym in resolved.joined() {
                    guard let stroke = keymap.strokes[keysym] else {
                        throw DesktopError.invalidArgument(
                            "key '\(String(cString: XKeysymToString(keysym)))' is not on the keyboard map, so it cannot be held down"
                        )
                    }
                    fakeKey(stroke.keycode, down: true)
                }
            case .up:
                let down = Set(pressedInputs().keys)
                for keysym in resolved.joined().reversed() {
                    if let stroke = keymap.strokes[keysym], down.contains(Int(stroke.keycode)) {
                        fakeKey(stroke.keycode, down: false)
                    }
                }
            }
        }
    }

    private func chordStroke(_ keysym: KeySym, keymap: Keymap) async throws -> KeyStroke {
        if let stroke = keymap.strokes[keysym] { return stroke }
        return try await scratchStroke(for: keysym, upcoming: EmptyCollection())
    }

    // MARK: - Shared keyboard action frame

    /// Loads the keymap, optionally neutralizes Caps Lock / held modifiers, runs `body`, then
    /// restores the modifier state — also when `body` fails or is cancelled. Borrowed keycodes
    /// stay mapped for the next action; the idle restore returns them (`scheduleIdleRestore`).
    func withKeyboard(neutralize: Bool, _ body: (Keymap) async throws -> Void) async throws {
        try await exclusively {
            // A pending idle restore must not run while this action types on the keycodes.
            idleGeneration += 1
            idleRestore?.cancel()
            idleRestore = nil
            let keymap = try Keymap.load(display: display, tracking: scratch.keycodes)
            scratch.begin(keymap: keymap, hasShift: keymap.modifierKeys[UInt32(ShiftMask)] != nil, display: display)
            scratchReceiverNoted = false
            let saved = neutralize ? neutralizeModifiers(keymap: keymap) : SavedModifiers()
            defer { scheduleIdleRestore() }
            do {
                try await body(keymap)
            } catch {
                // One cleanup path: release what the action pressed, then the modifiers.
                releaseTracked()
                restoreModifiers(saved)
                XSync(display, 0)
                _ = X11Errors.take(display)
                throw error
            }
            restoreModifiers(saved)
            try sync("sending keyboard input")
        }
    }

    /// Unlocks Caps Lock (and every other locked modifier) and releases modifier keys held
    /// through XTest, so they cannot change what is typed.
    func neutralizeModifiers(keymap: Keymap) -> SavedModifiers {
        var saved = SavedModifiers()
        var state = XkbStateRec()
        XkbGetState(display, UInt32(XkbUseCoreKbd), &state)
        if state.locked_mods != 0 {
            saved.locked = UInt32(state.locked_mods)
            XkbLockModifiers(display, UInt32(XkbUseCoreKbd), saved.locked, 0)
        }
        if state.latched_mods != 0 {
            XkbLatchModifiers(display, UInt32(XkbUseCoreKbd), UInt32(state.latched_mods), 0)
        }
        if state.base_mods != 0 {
            let held = pressedInputs().keys.map { KeyCode($0) }.filter { keymap.modifierKeycodes.contains($0) }
            for keycode in held { fakeKey(keycode, down: false) }
            XSync(display, 0)
            let stillDown = Set(pressedInputs().keys)
            // Only keys that our release actually released were held through XTest; a key a
            // person holds stays down and must not be pressed again afterwards.
            saved.released = held.filter { !stillDown.contains(Int($0)) }
        }
        return saved
    }

    func restoreModifiers(_ saved: SavedModifiers) {
        for keycode in saved.released { fakeKey(keycode, down: true) }
        if saved.locked != 0 {
            XkbLockModifiers(display, UInt32(XkbUseCoreKbd), saved.locked, saved.locked)
        }
    }

    /// Scratch rounds used by the last typing action (the benchmark reports them).
    public func lastScratchRounds() -> Int { scratch.rounds }

    /// How many times the driver waited for clients to confirm they processed key events
    /// typed on borrowed keycodes, and how many keycodes are borrowed now (benchmark, tests).
    public func borrowedKeycodeState() -> (confirmations: Int, borrowed: Int) { (catchUps, scratch.slots.count) }
}
