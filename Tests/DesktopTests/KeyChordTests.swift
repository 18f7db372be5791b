import CX11
import Foundation
import TestSupport
import Testing

@testable import Desktop

@Suite("Key chord parsing")
struct KeyChordParsingTests {
    @Test func sequencesAndChords() throws {
        #expect(try KeyChord.parse("ctrl+a ctrl+c").map(\.keys) == [["ctrl", "a"], ["ctrl", "c"]])
        #expect(try KeyChord.parse("tab  tab\tenter").map(\.keys) == [["tab"], ["tab"], ["enter"]])
        #expect(try KeyChord.parse("ctrl++").map(\.keys) == [["ctrl", "+"]])
        #expect(try KeyChord.parse("+").map(\.keys) == [["+"]])
    }

    @Test(arguments: ["", "   ", "ctrl+", "ctrl++a+", "+a"])
    func malformed(_ text: String) {
        #expect(throws: DesktopError.self) { try KeyChord.parse(text) }
    }

    @Test(
        "aliases resolve to the same keysym as the X name",
        arguments: [
            ("ctrl", "Control_L"), ("control", "Control_L"), ("ctl", "Control_L"), ("rctrl", "Control_R"),
            ("right_ctrl", "Control_R"), ("option", "Alt_L"), ("opt", "Alt_L"), ("right-alt", "Alt_R"),
            ("cmd", "Super_L"), ("command", "Super_L"), ("meta", "Super_L"), ("win", "Super_L"), ("windows", "Super_L"),
            ("rshift", "Shift_R"), ("return", "Return"), ("enter", "Return"), ("ESC", "Escape"), ("escape", "Escape"),
            ("del", "Delete"), ("ins", "Insert"), ("bksp", "BackSpace"), ("spacebar", "space"), ("pgup", "Prior"),
            ("Page_Up", "Prior"), ("pgdn", "Next"), ("page_down", "Next"), ("PageDown", "Next"), ("arrowleft", "Left"),
            ("arrow_right", "Right"), ("ARROWUP", "Up"), ("down", "Down"), ("caps_lock", "Caps_Lock"),
            ("num_lock", "Num_Lock"), ("print", "Print"), ("f1", "F1"), ("F24", "F24"), ("home", "Home"),
            ("end", "End"), ("menu", "Menu"), ("KP_Enter", "KP_Enter"), ("XF86AudioMute", "XF86AudioMute"),
        ])
    func alias(_ name: String, _ xName: String) throws {
        let keysym = try #require(KeyNames.keysym(for: name))
        #expect(keysym == keysymNamed(xName))
    }

    @Test func singleCharacters() {
        #expect(KeyNames.keysym(for: "a") == 0x61)
        #expect(KeyNames.keysym(for: "A") == 0x61, "letters are case-insensitive; shift is written explicitly")
        #expect(KeyNames.keysym(for: "<") == 0x3C)
        #expect(KeyNames.keysym(for: "ü") == 0xFC)
        #expect(KeyNames.keysym(for: "✓") == 0x0100_2713)
    }

    @Test(arguments: ["ARROWRIGHTX", "ctrlx", "pgdnn", "hyperspace", "f99"])
    func unknownNames(_ name: String) {
        #expect(KeyNames.keysym(for: name) == nil)
    }
}

func keysymNamed(_ name: String) -> KeySym { XStringToKeysym(name) }

extension OnXvfb {
    @Suite("Key chords on a real display")
    struct KeyChordInputTests {
        /// A private display with a recording window under the pointer (focus follows it).
        private func recordingWindow() async throws -> (XvfbServer, TestWindow, X11Desktop) {
            let server = try XvfbServer()
            let window = try TestWindow(display: server.display, x: 0, y: 0, width: 400, height: 300)
            let desktop = try await X11Desktop(.init(displayName: server.display))
            try await desktop.move(to: Point(x: 50, y: 50))
            return (server, window, desktop)
        }

        /// Key events a recording window receives for `chords`, as (press?, keycode) pairs.
        private func input(of chords: String, desktop: X11Desktop, window: TestWindow) async throws -> [TestWindow
            .Event]
        {
            window.reset()
            try await desktop.key(chords)
            return window.settle(quiet: 0.15).filter { $0.kind == .keyPress || $0.kind == .keyRelease }
                .map { TestWindow.Event(kind: $0.kind, detail: $0.detail, x: 0, y: 0, keysym: $0.keysym) }
        }

        @Test("aliases and sequences produce the same input as the equivalent keysyms")
        func equivalentInput() async throws {
            let (server, window, desktop) = try await recordingWindow()
            _ = server
            let pairs = [
                ("ctrl+shift+t", "Control_L+Shift_L+t"),
                ("ctrl+a ctrl+c", "Control_L+a Control_L+c"),
                ("tab tab enter", "Tab Tab Return"),
                ("pgdn page_up", "Next Prior"),
                ("arrowleft arrow_right up DOWN", "Left Right Up Down"),
                ("alt+f4", "Alt_L+F4"),
                ("option+bksp", "Alt_L+BackSpace"),
                ("cmd+space", "Super_L+space"),
                ("esc del ins home end", "Escape Delete Insert Home End"),
                ("ctrl++", "Control_L+plus"),
                ("!", "shift+1"),
            ]
            for (alias, canonical) in pairs {
                let a = try await input(of: alias, desktop: desktop, window: window)
                let b = try await input(of: canonical, desktop: desktop, window: window)
                #expect(!a.isEmpty, "\(alias) produced no input")
                #expect(a == b, "\(alias) vs \(canonical)")
            }
            // A chord presses modifiers first and releases in reverse order.
            let events = try await input(of: "ctrl+shift+t", desktop: desktop, window: window)
            #expect(events.map(\.kind) == [.keyPress, .keyPress, .keyPress, .keyRelease, .keyRelease, .keyRelease])
            #expect(events[2].keysym == 0x54 || events[2].keysym == 0x74)
            #expect(events[3].detail == events[2].detail && events[5].detail == events[0].detail)
            await desktop.close()
        }

        @Test("an unknown key name fails, names the key, and presses nothing")
        func unknownKeyPressesNothing() async throws {
            let (server, window, desktop) = try await recordingWindow()
            _ = server
            window.reset()
            await #expect(throws: DesktopError.unknownKey(name: "ARROWRIGHTT", chord: "ctrl+a ctrl+ARROWRIGHTT")) {
                try await desktop.key("ctrl+a ctrl+ARROWRIGHTT")
            }
            #expect(window.settle().filter { $0.kind == .keyPress }.isEmpty)
            #expect(await desktop.pressedInputs().keys.isEmpty)
            await desktop.close()
        }

        @Test("down holds the keys and up releases them")
        func downAndUp() async throws {
            let (server, window, desktop) = try await recordingWindow()
            _ = server
            window.reset()
            try await desktop.key("ctrl+shift", action: .down)
            #expect(await desktop.pressedInputs().keys.count == 2)
            try await desktop.key("ctrl+shift", action: .up)
            #expect(await desktop.pressedInputs().keys.isEmpty)
            let kinds = window.settle().map(\.kind).filter { $0 != .motion }
            #expect(kinds == [.keyPress, .keyPress, .keyRelease, .keyRelease])
            await desktop.close()
        }
    }
}
