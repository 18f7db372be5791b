import CyberdeskAPI
import Desktop
import Foundation
import Recorder
import TestSupport
import Testing

/// Every recording test needs its own Xvfb and xdotool (real XTest input, as a VNC server or a
/// person's keyboard reaches the server); they run one at a time.
@Suite(
    .serialized,
    .enabled(
        if: XvfbServer.isAvailable && XvfbServer.executable("xdotool") != nil,
        "Xvfb or xdotool is not installed: run scripts/install-deps"))
enum RecorderOnXvfb {}

/// A recording in progress on a private display, through the Recorder library.
struct LiveRecording {
    let desktop: X11Desktop
    let recorder: DemonstrationRecorder
    let task: Task<DemonstrationRecorder.Result, any Error>

    static func start(
        on server: XvfbServer, values: [TypedTextTemplater.Value] = [],
        settings: DemonstrationRecorder.Settings = .init()
    ) async throws -> LiveRecording {
        let desktop = try await X11Desktop(.init(displayName: server.display))
        let recorder = DemonstrationRecorder(
            desktop: desktop, displayName: server.display, settings: settings, templater: try TypedTextTemplater(values)
        )
        let task = Task { try await recorder.record(onStep: { _, _ in }) }
        let capturing = await eventually { await recorder.isCapturing }
        guard capturing else {
            task.cancel()
            throw TestFailure("the recorder never started capturing")
        }
        return LiveRecording(desktop: desktop, recorder: recorder, task: task)
    }

    /// Stops (reading what the server still holds) and returns the trajectory.
    func finish() async throws -> DemonstrationRecorder.Result {
        await recorder.stop()
        let result = try await task.value
        await desktop.close()
        return result
    }
}

/// Runs xdotool on the display; its `sleep` commands are the person's pace (a pause before a
/// click, the gap that makes a `wait`), not waiting for anything. ` ; ` separates xdotool
/// runs (`type` takes every word after it as text); words are split at spaces, `␣` in a
/// word stands for a space.
func xdotool(_ server: XvfbServer, _ script: String) async throws {
    for part in script.split(separator: " ; ") {
        let words = part.split(separator: " ").map { $0.replacingOccurrences(of: "␣", with: " ") }
        let result = try await server.run("xdotool", words)
        guard result.status == 0 else { throw TestFailure("xdotool \(part) failed: \(result.stderr)") }
    }
}

func steps(_ result: DemonstrationRecorder.Result) throws -> [Step] {
    try Trajectory.validate(result.steps)
}

/// Everything typed, across `type` steps (a slow moment of the machine may make a `wait`).
func typedText(_ result: DemonstrationRecorder.Result) throws -> String {
    try steps(result).compactMap { step -> String? in
        if case .type(let text) = step { return text }
        return nil
    }.joined()
}

extension RecorderOnXvfb {
    @Suite("recording a demonstration on Xvfb")
    struct RecordingTests {
        @Test(
            "a scripted session becomes coalesced steps at exact coordinates, with checkpoints of the screen before each press"
        )
        func scriptedSession() async throws {
            let server = try XvfbServer(width: 1280, height: 800)
            // Known pixels where the first click lands, for its checkpoint.
            let window = try TestWindow(display: server.display, x: 100, y: 80, width: 300, height: 200)
            window.paint([
                (x: 0, y: 0, width: 150, height: 200, rgb: 0xCC2200),
                (x: 150, y: 0, width: 150, height: 100, rgb: 0x0044AA),
                (x: 150, y: 100, width: 150, height: 100, rgb: 0x22AA44),
            ])
            let recording = try await LiveRecording.start(on: server)
            let before = try await recording.desktop.capturePixels(region: Rect(x: 186, y: 118, width: 128, height: 64))
            try await xdotool(
                server,
                "mousemove 250 150 sleep 0.3 click 1 sleep 0.8 ; type Hello ; key ctrl+a Tab Tab Return "
                    + "sleep 0.3 mousemove 700 300 sleep 0.3 click --repeat 2 --delay 80 1 sleep 0.8 "
                    + "mousemove 100 500 sleep 0.3 mousedown 1 mousemove 200 550 mousemove 300 600 mouseup 1 sleep 0.8 "
                    + "mousemove 640 400 sleep 0.3 click --repeat 3 --delay 30 5 sleep 2.6 ; type x")
            let result = try await recording.finish()
            #expect(result.dimensions == Size(width: 1280, height: 800))
            let recorded = try steps(result)
            #expect(recorded.count == 8, "\(recorded)")
            guard recorded.count == 8 else { return }
            #expect(recorded[0] == .click(x: 250, y: 150, button: .left, clicks: 1))
            #expect(recorded[1] == .type(text: "Hello"))
            #expect(recorded[2] == .key(text: "ctrl+a tab tab enter", down: nil))
            #expect(recorded[3] == .click(x: 700, y: 300, button: .left, clicks: 2))
            #expect(recorded[4] == .drag(startX: 100, startY: 500, toX: 300, toY: 600, duration: 0, button: .left))
            #expect(recorded[5] == .scroll(direction: .down, amount: 3, x: 640, y: 400))
            if case .wait(let seconds) = recorded[6] {
                #expect(seconds >= 2.5 && seconds <= 5, "the pause was 2.6 s")
            } else {
                Issue.record("step 6 should be a wait: \(recorded[6])")
            }
            #expect(recorded[7] == .type(text: "x"))

            // Checkpoints: on every click, drag and scroll, and the type right after the click.
            let checkpoints = try Trajectory.checkpoints(
                result.steps, dimensions: DisplaySize(width: 1280, height: 800),
                decode: { png in (try? PNGDecoder.decodeRGB(png)).map { ($0.width, $0.height) } })
            #expect(checkpoints.map { $0 != nil } == [true, true, false, true, true, true, false, false] as [Bool])
            let click = try #require(checkpoints[0])
            #expect([click.x, click.y, click.width, click.height] == [186, 118, 128, 64] as [Int])
            #expect(try PNGDecoder.decodeRGB(click.png).rgb == before.pixels)
            let typed = try #require(checkpoints[1])
            #expect([typed.x, typed.y] == [186, 118] as [Int])
            let drag = try #require(checkpoints[4])
            #expect([drag.x, drag.y, drag.width, drag.height] == [36, 468, 128, 64] as [Int])
        }

        @Test("German keymap: ü, ß and Ä on their own keys, AltGr and a dead key are typed text")
        func germanKeymap() async throws {
            let server = try XvfbServer(width: 800, height: 600)
            let layout = try await server.run("setxkbmap", ["-display", server.display, "de"])
            try #require(layout.status == 0, "setxkbmap: \(layout.stderr)")
            let recording = try await LiveRecording.start(on: server)
            try await xdotool(
                server,
                // xdotool's `type` sends Ä without Shift on this keymap (the application gets ä
                // too), so the capital is pressed as a chord.
                "type Grüße,␣ ; key shift+adiaeresis ; type pfel␣ß ; key dead_circumflex e sleep 0.1 "
                    + "keydown ISO_Level3_Shift key q keyup ISO_Level3_Shift sleep 0.1 key dead_acute shift+e")
            let result = try await recording.finish()
            #expect(try typedText(result) == "Grüße, Äpfel ßê@É")
            #expect(try steps(result).allSatisfy { if case .key = $0 { false } else { true } })
        }

        @Test("text typed on borrowed keycodes is recorded, though the typist restores its keymap at once")
        func borrowedKeycodes() async throws {
            // The agent types what the keymap lacks on spare keycodes it maps for the purpose,
            // and `close` (the end of `cyberdesk-agent type`) clears them before the recorder
            // has read the key events: the recorder must follow the mapping in stream order.
            let server = try XvfbServer(width: 800, height: 600)
            let recording = try await LiveRecording.start(on: server)
            let typist = try await X11Desktop(.init(displayName: server.display))
            try await typist.type("aö€Xß✓ é", options: TypingOptions())
            await typist.close()
            let result = try await recording.finish()
            #expect(try typedText(result) == "aö€Xß✓ é")
        }

        @Test("a layout change during the recording is followed")
        func layoutChange() async throws {
            let server = try XvfbServer(width: 800, height: 600)
            let recording = try await LiveRecording.start(on: server)
            try await xdotool(server, "type yz")
            let layout = try await server.run("setxkbmap", ["-display", server.display, "de"])
            try #require(layout.status == 0, "setxkbmap: \(layout.stderr)")
            // On de, y and z trade keys: the recorder must read the new keymap to get them right.
            try await xdotool(server, "type yzü")
            let result = try await recording.finish()
            #expect(try typedText(result) == "yzyzü")
        }

        @Test("inputs and secrets become placeholders; the stop chord ends the recording unrecorded")
        func inputsSecretsAndStopChord() async throws {
            let server = try XvfbServer(width: 800, height: 600)
            let recording = try await LiveRecording.start(
                on: server,
                values: [
                    .init(name: "patient", value: "Ann Lee", isSecret: false),
                    .init(name: "password", value: "Sup3r-Secr3t", isSecret: true),
                ])
            try await xdotool(
                server,
                "mousemove 300 200 sleep 0.3 click 1 sleep 0.7 ; type Ann␣Lex ; key BackSpace ; type e ; "
                    + "key Tab ; type Sup3r-Secr3t ; key Return ; key ctrl+alt+shift+s ; type after")
            let stopped = await eventually { await !recording.recorder.isCapturing }
            if !stopped { await recording.recorder.stop() }
            #expect(stopped, "the stop chord did not end the recording")
            let result = try await recording.task.value
            await recording.desktop.close()
            let recorded = try steps(result)
            #expect(result.stoppedByChord)
            #expect(
                Array(recorded.dropFirst()) == [
                    .type(text: "{patient}"), .key(text: "tab", down: nil), .type(text: "{$password}"),
                    .key(text: "enter", down: nil),
                ])
        }
    }
}
