import Foundation
import TestSupport
import Testing

@testable import Desktop

extension OnXvfb {
    @Suite("Typing into a real xterm")
    struct TypingTests {
        static let marker = "\n#END#\n"

        static let printableASCII = String((0x20...0x7E).map { Character(Unicode.Scalar($0)!) })
        static let samples: [String] = [
            printableASCII,
            "tabs\tand\nnewlines\n\tindented\r\nwindows line",
            "Łucja Müller-Øberg, café, naïve, Ærøskøbing, Ångström, façade, São Paulo, Dvořák, Škoda",
            "Ελληνικά: αβγδεζηθικλμνξοπρστυφχψω ΑΒΓΔ",
            "Кириллица: Съешь же ещё этих мягких французских булок",
            "東京 大阪 日本語 中文 한국어",
            "– — … ✓ € « » © ® ™ § ¶ • ← → ≤ ≥ ≠ ∞ ½ °",
            "<less> >greater< |pipe| \\backslash ~tilde `backtick ^caret",
        ]

        /// One string with well over 55 distinct characters that are not on a US keymap, so the
        /// borrowed keycodes are remapped in several rounds within one action.
        static let manyMissing = "ąćęłńśźżĄĆĘŁŃŚŹŻ αβγδεζηθικλμνξπρστυφχψω бгджзийл 東京大阪日本語 ✓€«»–—…"

        @Test("types every sample exactly, with Caps Lock off and on", arguments: samples, [false, true])
        func typesExactly(_ text: String, capsLock: Bool) async throws {
            try await typeIntoXterm(text, capsLock: capsLock)
        }

        @Test("a string with more distinct missing characters than free keycodes")
        func manyMissingCharacters() async throws {
            let missing = Set(Self.manyMissing.unicodeScalars.filter { $0.value > 0x7E && $0 != " " })
            #expect(missing.count >= 55)
            try await typeIntoXterm(Self.manyMissing, capsLock: false)
        }

        @Test("Caps Lock on does not change what is typed, and stays on")
        func capsLockNeutral() async throws {
            try await typeIntoXterm(Self.printableASCII + " Łucja Müller-Øberg " + Self.manyMissing, capsLock: true)
        }

        @Test("a Shift held by another XTest action does not change what is typed")
        func heldShiftNeutral() async throws {
            let server = try XvfbServer()
            let xterm = try await XtermCat(on: server)
            defer { xterm.remove() }
            let desktop = try await X11Desktop(.init(displayName: server.display))
            try await desktop.move(to: Point(x: XtermCat.focusPoint.x, y: XtermCat.focusPoint.y))
            try await desktop.key("shift", action: .down)
            try await desktop.type("lower case stays lower" + Self.marker)
            try await desktop.key("shift", action: .up)
            let typed = await xterm.waitForText(endingWith: Self.marker)
            #expect(typed == "lower case stays lower" + Self.marker)
            await desktop.close()
        }

        private func typeIntoXterm(_ text: String, capsLock: Bool) async throws {
            let server = try XvfbServer()
            let xterm = try await XtermCat(on: server)
            defer { xterm.remove() }
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let desktop = try await X11Desktop(.init(displayName: server.display))
            let probe = try TestWindow(display: server.display, x: 1200, y: 700, width: 10, height: 10)
            try await desktop.move(to: Point(x: XtermCat.focusPoint.x, y: XtermCat.focusPoint.y))
            if capsLock {
                try await desktop.key("caps_lock")
                #expect(probe.lockedModifiers() & 0x2 != 0, "Caps Lock should be on before typing")
            }
            try await desktop.type(text + Self.marker)
            let typed = await xterm.waitForText(endingWith: Self.marker)
            let expected = (text + Self.marker).replacingOccurrences(of: "\r\n", with: "\n")
            #expect(typed == expected)
            if typed != expected {
                let got = Array(typed.unicodeScalars)
                let want = Array(expected.unicodeScalars)
                let first = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
                Issue.record(
                    "first difference at scalar \(first): got \(got.dropFirst(first).prefix(10)) want \(want.dropFirst(first).prefix(10))"
                )
            }
            if capsLock {
                #expect(probe.lockedModifiers() & 0x2 != 0, "Caps Lock should still be on after typing")
                try await desktop.key("caps_lock")
            }
            await desktop.close()
            let keymapAfter = try await server.run("xmodmap", ["-pke"]).stdout
            #expect(keymapAfter == keymapBefore, "the keymap must be exactly as before")
        }

        @Test("control characters other than newline and tab are rejected before typing")
        func rejectsControlCharacters() async throws {
            #expect(throws: DesktopError.unsupportedCharacter("\u{7}")) {
                _ = try X11Desktop.typingKeysyms("bell\u{7}")
            }
            #expect(try X11Desktop.typingKeysyms("a\r\nb").count == 3)
        }
    }
}
