import Agent
import CyberdeskAPI
import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Run executor: typing, keys, mouse and coordinates")
    struct RunExecutorInputTests {
        static let secret = "s3cr3t-Pässwörd-✓-東京-{name}-and more"

        @Test("types an input template and a secret exactly; the secret appears in no event, error, output or log")
        func typesTemplateAndSecret() async throws {
            try await ExecutorWorld.with(secrets: ["password": .string(Self.secret)]) { world in
                let xterm = try await XtermCat(on: world.server)
                defer { xterm.remove() }
                let outcome = await world.run(
                    [
                        step("mouse_move", 100, 100),
                        step("type", "Hello {name}, password={$password}; done\n#END#\n"),
                        step("set_output", "greeted", "{name}"),
                    ],
                    inputs: ["name": "Ada Lovelace"], sensitive: ["password"])
                #expect(outcome.status == .success, "\(outcome.errors)")
                let typed = await xterm.waitForText(endingWith: "#END#\n")
                #expect(typed == "Hello Ada Lovelace, password=\(Self.secret); done\n#END#\n")
                #expect(outcome.outputData == ["greeted": "Ada Lovelace"])

                let recorded = await world.environment.recordedText
                let everything = [recorded, world.logs.all.joined(separator: "\n"), "\(outcome)"]
                for text in everything {
                    #expect(!text.contains("Pässwörd"), "the secret leaked")
                    #expect(!text.contains("s3cr3t"), "the secret leaked")
                }
                #expect(recorded.contains("password={$password}; done"), "the history shows the placeholder")
                #expect(await world.environment.secretRequests == ["password"])
                let typeEvent = try #require(await world.environment.stepEvents.first { $0["func_name"] == "type" })
                #expect(typeEvent["args"] == ["text": "Hello Ada Lovelace, password={$password}; done\n#END#\n"])
            }
        }

        @Test("a secret that cannot be typed fails the run without showing its characters")
        func untypableSecret() async throws {
            try await ExecutorWorld.with(secrets: ["pin": "12\u{7}34"]) { world in
                let outcome = await world.run([step("type", "pin: {$pin}")], sensitive: ["pin"])
                #expect(outcome.status == .error)
                #expect(outcome.errors.first?.hasPrefix("step 0 (type): the sensitive input {$pin}") == true)
                #expect(!"\(outcome.errors)".contains("U+0007"))
            }
        }

        @Test("a secret the run did not provide is an error naming the placeholder")
        func missingSecret() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([step("type", "{$token}")])
                #expect(outcome.status == .error)
                #expect(outcome.errors == ["step 0 (type): the sensitive input {$token} was not provided for this run"])
                #expect(await world.environment.secretRequests.isEmpty)
            }
        }

        @Test("a trajectory recorded at 1024x768 clicks at the scaled points of a 1920x1080 screen")
        func scalesCoordinates() async throws {
            try await ExecutorWorld.with(width: 1920, height: 1080) { world in
                let window = try TestWindow(display: world.server.display, x: 0, y: 0, width: 1920, height: 1080)
                window.reset()
                let outcome = await world.run(
                    [step("click", 512, 384), step("right_click", 100, 700), step("double_click", 1023, 0)],
                    dimensions: DisplaySize(width: 1024, height: 768))
                #expect(outcome.status == .success, "\(outcome.errors)")
                // 4 presses, 4 releases, 3 moves.
                let presses = window.collect(atLeast: 11).filter { $0.kind == .buttonPress }
                #expect(
                    presses == [
                        .init(kind: .buttonPress, detail: 1, x: 960, y: 540),
                        .init(kind: .buttonPress, detail: 3, x: 188, y: 985),
                        .init(kind: .buttonPress, detail: 1, x: 1919, y: 0),
                        .init(kind: .buttonPress, detail: 1, x: 1919, y: 0),
                    ])
                let events = await world.environment.events
                let scale = try #require(events.first { $0["type"] == "coordinate_scale" })
                #expect(scale["scale_x"] == 1.875)
                #expect(scale["scale_y"] == 1.40625)
                #expect(scale["screen_dimensions"] == ["width": 1920, "height": 1080])
                #expect(events.filter { $0["type"] == "coordinate_scale" }.count == 1)
                let click = try #require(await world.environment.stepEvents.first)
                #expect(click["args"]?.objectValue?["screen_point"] == [960, 540])
            }
        }

        @Test("no scale is reported when the screen has the recorded size")
        func noScaleWhenSameSize() async throws {
            try await ExecutorWorld.with { world in
                let window = try TestWindow(display: world.server.display, x: 0, y: 0, width: 1280, height: 800)
                window.reset()
                let outcome = await world.run(
                    [step("click", 321, 123), step("scroll", "down", 2, 50, 60)],
                    dimensions: DisplaySize(width: 1280, height: 800))
                #expect(outcome.status == .success, "\(outcome.errors)")
                let presses = window.collect(atLeast: 7).filter { $0.kind == .buttonPress }
                #expect(presses.map(\.detail) == [1, 5, 5])
                #expect(presses.first?.x == 321 && presses.first?.y == 123)
                #expect(presses.last?.x == 50 && presses.last?.y == 60)
                #expect(await !world.environment.events.contains { $0["type"] == "coordinate_scale" })
            }
        }

        @Test("key chords, drags and held buttons reach a real window")
        func keysAndDrag() async throws {
            try await ExecutorWorld.with { world in
                let window = try TestWindow(display: world.server.display, x: 0, y: 0, width: 1280, height: 800)
                window.reset()
                let outcome = await world.run([
                    step("mouse_move", 640, 400),
                    step("key", "ctrl+a"),
                    step("drag", 100, 150, 700, 450),
                    step("mouse_down", kwargs: ["button": "middle"]),
                    step("mouse_up", "middle", 20, 30),
                ])
                #expect(outcome.status == .success, "\(outcome.errors)")
                let events = window.collect(atLeast: 12)
                let keys = events.filter { $0.kind == .keyPress }.map(\.keysym)
                #expect(keys == [0xFFE3, 0x61], "ctrl then a")
                let buttons = events.filter { $0.kind == .buttonPress || $0.kind == .buttonRelease }
                #expect(
                    buttons.map { "\($0.kind) \($0.detail) \($0.x),\($0.y)" } == [
                        "buttonPress 1 100,150", "buttonRelease 1 700,450", "buttonPress 2 700,450",
                        "buttonRelease 2 20,30",
                    ])
                #expect(await world.desktop.pressedInputs().buttons.isEmpty)
            }
        }

        @Test("copy_to_clipboard presses ctrl+c in the application and stores what it copied")
        func copyToClipboard() async throws {
            try await ExecutorWorld.with { world in
                let xterm = try await XtermCat(
                    on: world.server,
                    resources: ["XTerm*vt100.translations: #override Ctrl<Key>c: copy-selection(CLIPBOARD)"],
                    banner: "copy me: Ωmega 42")
                defer { xterm.remove() }
                let outcome = await world.run([
                    step("triple_click", 30, 8),
                    step("copy_to_clipboard", "copied"),
                    step("set_output", "again", "<{{copied}}>"),
                ])
                #expect(outcome.status == .success, "\(outcome.errors)")
                // xterm copies a triple-clicked line with its line break; the value is what it copied.
                #expect(outcome.outputData["copied"] == "copy me: Ωmega 42\n")
                #expect(outcome.outputData["again"] == "<copy me: Ωmega 42\n>")
            }
        }

        @Test("set_clipboard owns the clipboard with templated text")
        func setClipboard() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([step("set_clipboard", "for {name}")], inputs: ["name": "Bob"])
                #expect(outcome.status == .success, "\(outcome.errors)")
                let result = try await world.server.run("xclip", ["-o", "-selection", "clipboard"])
                #expect(String(decoding: result.stdout, as: UTF8.self) == "for Bob")
            }
        }
    }
}
