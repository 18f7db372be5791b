import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    /// The debug CLI as a user runs it: JSON on stdout, clear errors and exit codes.
    @Suite("cyberdesk-agent debug commands")
    struct AgentCLITests {
        private func agent(_ server: XvfbServer?, _ arguments: [String], input: Data? = nil) async throws -> (
            status: Int32, json: [String: Any], stderr: String
        ) {
            var env: [String: String] = [:]
            if let server { env["DISPLAY"] = server.display }
            let result = try await runProcess(agentExecutable, arguments, environment: env, input: input)
            let json = (try? JSONSerialization.jsonObject(with: result.stdout)) as? [String: Any] ?? [:]
            return (result.status, json, result.stderr)
        }

        /// `cyberdesk-agent type --delay` running in the background, to be killed mid-action.
        private func startTypist(on server: XvfbServer, delay: Int, text: String) throws -> Process {
            let typist = Process()
            typist.executableURL = URL(fileURLWithPath: agentExecutable)
            typist.arguments = ["type", "--delay", String(delay), text]
            typist.environment = ProcessInfo.processInfo.environment.merging(["DISPLAY": server.display]) { $1 }
            typist.standardOutput = FileHandle.nullDevice
            typist.standardError = FileHandle.nullDevice
            try typist.run()
            return typist
        }

        @Test("a Shift left down by a process killed with SIGKILL is released when the next agent starts")
        func stuckShiftAfterKill() async throws {
            let server = try XvfbServer()
            let probe = try await X11Desktop(.init(displayName: server.display))
            // Upper-case text keeps Shift down between letters; a slow delay makes the window wide.
            let typist = try startTypist(on: server, delay: 200, text: String(repeating: "A", count: 200))
            let shiftDown = await eventually { await !probe.pressedInputs().keys.isEmpty }
            #expect(shiftDown, "the typing process should be holding Shift")
            kill(typist.processIdentifier, SIGKILL)
            typist.waitUntilExit()
            #expect(!(await probe.pressedInputs().keys.isEmpty), "the X server keeps the key pressed after SIGKILL")
            // What the daemon does when it starts.
            let agentStart = try await X11Desktop(.init(displayName: server.display, releaseHeldInputAtStart: true))
            #expect(await probe.pressedInputs().keys.isEmpty)
            #expect(await probe.pressedInputs().buttons.isEmpty)
            await agentStart.close()
            await probe.close()
        }

        @Test("keycodes borrowed by a process killed mid-typing are restored by the next agent start")
        func borrowedKeycodesAfterKill() async throws {
            let server = try XvfbServer()
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let typist = try startTypist(on: server, delay: 100, text: String(repeating: "Łø✓東", count: 50))
            #expect(await eventually { (try? await server.run("xmodmap", ["-pke"]).stdout) != keymapBefore })
            kill(typist.processIdentifier, SIGKILL)
            typist.waitUntilExit()
            #expect(
                try await server.run("xmodmap", ["-pke"]).stdout != keymapBefore, "SIGKILL leaves the keycodes mapped")
            let release = try await agent(server, ["release"])
            #expect(release.status == 0, "\(release.stderr)")
            #expect(try await server.run("xmodmap", ["-pke"]).stdout == keymapBefore)
        }

        @Test("SIGTERM during typing releases keys and restores the keymap")
        func sigtermReleases() async throws {
            let server = try XvfbServer()
            let keymapBefore = try await server.run("xmodmap", ["-pke"]).stdout
            let probe = try await X11Desktop(.init(displayName: server.display))
            let typist = try startTypist(on: server, delay: 100, text: String(repeating: "AŁ✓", count: 100))
            #expect(await eventually { await !probe.pressedInputs().keys.isEmpty })
            typist.terminate()
            typist.waitUntilExit()
            #expect(typist.terminationStatus == 130)
            #expect(await probe.pressedInputs().keys.isEmpty)
            #expect(try await server.run("xmodmap", ["-pke"]).stdout == keymapBefore)
            await probe.close()
        }

        @Test("debug commands print JSON")
        func commandsPrintJSON() async throws {
            let server = try XvfbServer(width: 1024, height: 768)
            #expect(try await agent(server, ["dimensions"]).json["width"] as? Int == 1024)
            #expect(try await agent(server, ["move", "12", "34"]).status == 0)
            let position = try await agent(server, ["position"]).json
            #expect(position["x"] as? Int == 12 && position["y"] as? Int == 34)
            #expect(try await agent(server, ["click", "5", "6", "--button", "right", "--clicks", "2"]).status == 0)
            #expect(try await agent(server, ["drag", "1", "2", "30", "40", "--duration", "0.05"]).status == 0)
            #expect(try await agent(server, ["scroll", "down", "3", "--x", "10", "--y", "10"]).status == 0)
            #expect(try await agent(server, ["key", "ctrl+a", "tab"]).status == 0)
            #expect(
                try await agent(server, ["type", "--stdin"], input: Data("héllo".utf8)).json["characters"] as? Int == 5)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString).png")
            defer { try? FileManager.default.removeItem(at: file) }
            let shot = try await agent(
                server, ["screenshot", "-o", file.path, "--width", "512", "--height", "512", "--mode", "aspect_fit"])
            #expect(shot.status == 0)
            #expect(shot.json["width"] as? Int == 512 && shot.json["offset_y"] as? Double == 64)
            let image = try RGBImage(png: Array(try Data(contentsOf: file)))
            #expect(image.width == 512 && image.height == 512)
            let set = try await agent(server, ["clipboard", "set", "from the cli ✓"])
            #expect(set.status == 0, "\(set.stderr)")
            let xclip = try await server.run("xclip", ["-o", "-selection", "clipboard"])
            #expect(String(decoding: xclip.stdout, as: UTF8.self) == "from the cli ✓")
            _ = try await server.run("xclip", ["-i", "-selection", "clipboard"], input: Data("back ✓".utf8))
            #expect(try await agent(server, ["clipboard", "get"]).json["text"] as? String == "back ✓")
            let doctor = try await agent(server, ["doctor"])
            #expect(doctor.status == 0 && doctor.json["ok"] as? Bool == true)
        }

        @Test("failures exit non-zero with a message that says what to fix")
        func failures() async throws {
            let noDisplay = try await runProcess(agentExecutable, ["dimensions"], environment: ["DISPLAY": ""])
            #expect(noDisplay.status != 0 && noDisplay.stderr.contains("DISPLAY"))
            let wrongDisplay = try await runProcess(agentExecutable, ["dimensions", "--display", ":9999"])
            #expect(wrongDisplay.status != 0 && wrongDisplay.stderr.contains("cannot open X display ':9999'"))
            let doctor = try await runProcess(agentExecutable, ["doctor"], environment: ["DISPLAY": ":9999"])
            #expect(doctor.status == 1 && doctor.stdout.count > 0)
            let noXTest = try XvfbServer(arguments: ["-extension", "XTEST"])
            let missing = try await agent(noXTest, ["click", "5", "5"])
            #expect(missing.status == 1 && missing.stderr.contains("does not support the XTEST extension"))
            let doctorNoXTest = try await agent(noXTest, ["doctor"])
            #expect(doctorNoXTest.status == 1 && doctorNoXTest.json["ok"] as? Bool == false)
            let server = try XvfbServer()
            let unknown = try await agent(server, ["key", "ctrl+ARROWRIGHTT"])
            #expect(unknown.status == 1 && unknown.stderr.contains("unknown key name 'ARROWRIGHTT'"))
            let outside = try await agent(server, ["click", "5000", "5"])
            #expect(outside.status == 1 && outside.stderr.contains("outside the screen"))
            let badArgs = try await agent(server, ["click", "5"])
            #expect(badArgs.status != 0 && badArgs.stderr.contains("give both X and Y"))
            let badMode = try await agent(server, ["screenshot", "--mode", "stretch"])
            #expect(badMode.status != 0 && badMode.stderr.contains("mode"))
        }
    }
}
