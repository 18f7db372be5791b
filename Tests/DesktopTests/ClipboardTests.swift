import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Clipboard round trips with xclip")
    struct ClipboardTests {
        static let unicode = "Łucja Müller-Øberg – ✓ 東京 € « » 🙂\nsecond line\ttab"
        /// 2 MiB of text: well above one X request and above xclip's own INCR threshold
        /// (just under 1 MiB), so it crosses through INCR in both directions.
        static let large: String = {
            let line = "0123456789 abcdefghijklmnopqrstuvwxyz ÄÖÜ äöü ✓ 東京\n"
            var text = String(repeating: line, count: (2 << 20) / line.utf8.count + 1)
            while text.utf8.count > 2 << 20 { text.removeLast() }
            return text
        }()

        /// Test arguments by name, so a megabyte of text is not printed for every test case.
        static let texts = ["unicode": unicode, "2 MiB": large]

        @Test("set by the driver, read by xclip", arguments: ["unicode", "2 MiB"])
        func driverToXclip(_ name: String) async throws {
            let text = try #require(Self.texts[name])
            let server = try XvfbServer()
            let desktop = try await X11Desktop(.init(displayName: server.display))
            try await desktop.setClipboardText(text)
            let result = try await server.run("xclip", ["-o", "-selection", "clipboard", "-target", "UTF8_STRING"])
            #expect(result.status == 0, "\(result.stderr)")
            let received = String(decoding: result.stdout, as: UTF8.self)
            // Compared as a Bool so a mismatch does not print a megabyte of text.
            let same = received == text
            #expect(same, "xclip received \(received.utf8.count) bytes, expected \(text.utf8.count)")
            await desktop.close()
        }

        @Test("set by xclip, read by the driver", arguments: ["unicode", "2 MiB"])
        func xclipToDriver(_ name: String) async throws {
            let text = try #require(Self.texts[name])
            let server = try XvfbServer()
            // xclip forks a server that owns the selection until someone else takes it.
            let set = try await server.run("xclip", ["-i", "-selection", "clipboard"], input: Data(text.utf8))
            #expect(set.status == 0)
            let desktop = try await X11Desktop(.init(displayName: server.display))
            var read = ""
            _ = try await eventually {
                read = try await desktop.clipboardText()
                return read == text
            }
            let same = read == text
            #expect(same, "read \(read.utf8.count) bytes, expected \(text.utf8.count)")
            await desktop.close()
        }

        @Test("losing ownership to another client ends serving")
        func losesOwnership() async throws {
            let server = try XvfbServer()
            let desktop = try await X11Desktop(.init(displayName: server.display))
            try await desktop.setClipboardText("ours")
            #expect(await desktop.ownsClipboard())
            _ = try await server.run("xclip", ["-i", "-selection", "clipboard"], input: Data("theirs".utf8))
            #expect(await eventually { await !desktop.ownsClipboard() })
            await desktop.waitUntilClipboardLost()
            #expect(try await desktop.clipboardText() == "theirs")
            await desktop.close()
        }

        @Test("copy_to_clipboard presses the copy chord and reads what the application copied")
        func copyToClipboard() async throws {
            let server = try XvfbServer()
            let desktop = try await X11Desktop(.init(displayName: server.display))
            // No application here copies on ctrl+c, so the owner never changes: the call
            // returns the current clipboard after the deadline instead of hanging.
            _ = try await server.run("xclip", ["-i", "-selection", "clipboard"], input: Data("before".utf8))
            let text = try await desktop.copySelectionToClipboard(chord: "ctrl+c", timeout: 0.3)
            #expect(text == "before")
            await desktop.close()
        }
    }
}
