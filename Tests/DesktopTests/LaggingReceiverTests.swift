import Foundation
import TestSupport
import Testing

@testable import Desktop

extension OnXvfb {
    /// Issue 14: exact typing when the receiving application lags behind its input. A lagging
    /// client reads a keymap change before it translates the key events queued ahead of it,
    /// so a borrowed keycode must not change until the client has processed them.
    @Suite("Typing into applications that lag")
    struct LaggingReceiverTests {
        /// 55 distinct characters, none on Xvfb's US keymap (the DESKTOP.md benchmark string).
        static let unicode55 = "àéîõüçñåøæßłđğşžčřőűąęėįųāēīōūαβγδλπφψωжщюяй東京日本✓€…–«»¥"
        /// The issue's string: the 55, then a name and words with more missing characters.
        static let issueText = unicode55 + " Łucja Müller-Øberg Ελληνικά Привет ĀĒĪŌŪ ŽŠČŘĎŤŇ"
        /// 100 distinct characters missing from a US keymap: Cyrillic А–я, Greek α–ω and Α–Λ.
        static let hundredDistinct = String(
            String.UnicodeScalarView(
                Array(0x410...0x44F).compactMap(Unicode.Scalar.init)
                    + Array(0x3B1...0x3C9).compactMap(Unicode.Scalar.init)
                    + Array(0x391...0x39B).compactMap(Unicode.Scalar.init)))

        static func distinctMissing(_ text: String) -> Int {
            Set(text.unicodeScalars.filter { $0.value > 0x7E }).count
        }

        @Test("an xterm at nice 19 with both cores busy gets the issue's string exactly, several times")
        func nicedXtermUnderLoad() async throws {
            // More distinct missing characters than the 19 empty keycodes hold at two levels, so
            // borrowed keycodes are remapped within each action.
            #expect(Self.distinctMissing(Self.issueText) > 2 * 19)
            let server = try XvfbServer()
            let xterm = try await XtermCat(on: server, niceness: 19)
            defer { xterm.remove() }
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let desktop = try await X11Desktop(.init(displayName: server.display))
            try await desktop.move(to: Point(x: XtermCat.focusPoint.x, y: XtermCat.focusPoint.y))
            let loops = try BusyLoops(count: 2)
            let repetitions = 3
            var rounds = 0
            do {
                for _ in 0..<repetitions {
                    try await desktop.type(Self.issueText + "\n")
                    rounds += await desktop.lastScratchRounds()
                }
                let typed = await xterm.waitForText(containing: repetitions, of: "\n", timeout: .seconds(120))
                await loops.stop()
                #expect(typed == String(repeating: Self.issueText + "\n", count: repetitions))
                Self.recordDifference(typed, String(repeating: Self.issueText + "\n", count: repetitions))
            } catch {
                await loops.stop()
                throw error
            }
            #expect(rounds >= repetitions, "each action remaps borrowed keycodes at least once")
            // The driver stays open (as the daemon does): its idle restore empties the keycodes.
            let restored = await eventually(timeout: .seconds(30)) {
                (try? await server.run("xmodmap", ["-pke"]).stdout) == keymapBefore
            }
            #expect(restored, "the keymap must be back to the original after the idle period")
            await desktop.close()
            #expect(try await server.run("xmodmap", ["-pke"]).stdout == keymapBefore)
        }

        @Test("a client that answers _NET_WM_PING but handles each event 20 ms late gets 100 distinct characters")
        func laggingPingClient() async throws {
            #expect(Self.distinctMissing(Self.hundredDistinct) == 100)
            let server = try XvfbServer()
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let client = try await LaggingPingClient(
                display: server.display, x: 0, y: 0, width: 400, height: 300, delay: .milliseconds(20))
            let text = Self.hundredDistinct + "\n"
            do {
                let desktop = try await X11Desktop(.init(displayName: server.display))
                try await desktop.move(to: Point(x: 200, y: 150))
                try await desktop.type(text)
                let typed = await client.waitForText(endingWith: "\n", timeout: .seconds(120))
                #expect(typed == text)
                Self.recordDifference(typed, text)
                #expect(client.pingsAnswered > 0, "the driver asked the client before remapping")
                await desktop.close()
            } catch {
                // Stopped before the server goes: Xlib exits the process when its server vanishes.
                await client.stop()
                throw error
            }
            await client.stop()
            #expect(try await server.run("xmodmap", ["-pke"]).stdout == keymapBefore)
        }

        @Test("borrowed keycodes are reused by the next action and restored once typing is idle")
        func lazyRestore() async throws {
            let server = try XvfbServer()
            let xterm = try await XtermCat(on: server)
            defer { xterm.remove() }
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let desktop = try await X11Desktop(
                .init(
                    displayName: server.display, borrowedKeycodesIdle: .seconds(2), borrowedKeycodesLimit: .seconds(4)))
            try await desktop.move(to: Point(x: XtermCat.focusPoint.x, y: XtermCat.focusPoint.y))
            try await desktop.type("Łucja ")
            // Still mapped between actions, so the next action types on them without a change.
            #expect(try await server.run("xmodmap", ["-pke"]).stdout != keymapBefore)
            let confirmationsBefore = await desktop.borrowedKeycodeState().confirmations
            try await desktop.type("Łucja Øberg\n")
            #expect(await desktop.borrowedKeycodeState().confirmations == confirmationsBefore)
            let typed = await xterm.waitForText(endingWith: "\n")
            #expect(typed == "Łucja Łucja Øberg\n")
            let restored = await eventually(timeout: .seconds(20)) {
                (try? await server.run("xmodmap", ["-pke"]).stdout) == keymapBefore
            }
            #expect(restored, "the idle restore must bring the keymap back without closing the driver")
            #expect(await desktop.borrowedKeycodeState().borrowed == 0)
            // After the restore, typing borrows again and still arrives exactly.
            try await desktop.type("Ørsted\n")
            #expect(await xterm.waitForText(endingWith: "Ørsted\n") == "Łucja Łucja Øberg\nØrsted\n")
            try await desktop.releaseAllInputs()
            #expect(try await server.run("xmodmap", ["-pke"]).stdout == keymapBefore, "release restores at once")
            await desktop.close()
        }

        static func recordDifference(_ typed: String, _ expected: String) {
            guard typed != expected else { return }
            let got = Array(typed.unicodeScalars)
            let want = Array(expected.unicodeScalars)
            let first = (0..<min(got.count, want.count)).first { got[$0] != want[$0] } ?? min(got.count, want.count)
            Issue.record(
                "first difference at scalar \(first) of \(want.count): got \(String(String.UnicodeScalarView(got.dropFirst(first).prefix(20)))) want \(String(String.UnicodeScalarView(want.dropFirst(first).prefix(20))))"
            )
        }
    }
}
