import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Mouse input seen by a real X window")
    struct MouseTests {
        private func setUp() async throws -> (XvfbServer, TestWindow, X11Desktop) {
            let server = try XvfbServer()
            let window = try TestWindow(display: server.display, x: 0, y: 0, width: 1280, height: 800)
            let desktop = try await X11Desktop(.init(displayName: server.display))
            window.reset()
            return (server, window, desktop)
        }

        private func presses(_ events: [TestWindow.Event]) -> [TestWindow.Event] {
            events.filter { $0.kind == .buttonPress || $0.kind == .buttonRelease }
        }

        @Test(
            "clicks of each button with the right count at exact coordinates",
            arguments: [(MouseButton.left, 1), (.middle, 2), (.right, 3), (.left, 3)])
        func clicks(_ button: MouseButton, _ count: Int) async throws {
            let (server, window, desktop) = try await setUp()
            _ = server
            try await desktop.click(at: Point(x: 321, y: 123), button: button, clicks: count)
            let events = presses(window.collect(atLeast: count * 2 + 1))
            #expect(events.count == count * 2)
            for (i, event) in events.enumerated() {
                #expect(event.kind == (i % 2 == 0 ? .buttonPress : .buttonRelease))
                #expect(event.detail == button.x11Button)
                #expect(event.x == 321 && event.y == 123)
            }
            #expect(try await desktop.pointerPosition() == Point(x: 321, y: 123))
            await desktop.close()
        }

        @Test("down and up send one press and one release")
        func downUp() async throws {
            let (server, window, desktop) = try await setUp()
            _ = server
            try await desktop.mouseButton(.right, down: true, at: Point(x: 10, y: 20))
            #expect(await desktop.pressedInputs().buttons == [3])
            try await desktop.mouseButton(.right, down: false, at: Point(x: 30, y: 40))
            #expect(await desktop.pressedInputs().buttons.isEmpty)
            let events = presses(window.collect(atLeast: 4))
            #expect(
                events == [
                    .init(kind: .buttonPress, detail: 3, x: 10, y: 20),
                    .init(kind: .buttonRelease, detail: 3, x: 30, y: 40),
                ])
            await desktop.close()
        }

        @Test("drag presses at the start and releases at the end", arguments: [0.0, 0.2])
        func drag(duration: Double) async throws {
            let (server, window, desktop) = try await setUp()
            _ = server
            try await desktop.drag(
                from: Point(x: 100, y: 150), to: Point(x: 700, y: 450), duration: duration, button: .left)
            let events = window.collect(atLeast: 4)
            let buttons = presses(events)
            #expect(
                buttons == [
                    .init(kind: .buttonPress, detail: 1, x: 100, y: 150),
                    .init(kind: .buttonRelease, detail: 1, x: 700, y: 450),
                ])
            let motions = events.filter { $0.kind == .motion }
            #expect(motions.count >= (duration > 0 ? 5 : 1), "the pointer moves between press and release")
            #expect(motions.last == .init(kind: .motion, detail: 0, x: 700, y: 450))
            await desktop.close()
        }

        @Test(
            "scroll sends wheel buttons 4–7 the asked number of times",
            arguments: [(ScrollDirection.up, 3), (.down, 5), (.left, 1), (.right, 2)])
        func scroll(_ direction: ScrollDirection, _ amount: Int) async throws {
            let (server, window, desktop) = try await setUp()
            _ = server
            try await desktop.scroll(direction, amount: amount, at: Point(x: 640, y: 400))
            let events = presses(window.collect(atLeast: amount * 2 + 1))
            #expect(events.count == amount * 2)
            #expect(events.allSatisfy { $0.detail == direction.x11Button && $0.x == 640 && $0.y == 400 })
            await desktop.close()
        }

        @Test("coordinates outside the screen are an error, not clamped")
        func outOfScreen() async throws {
            let (server, window, desktop) = try await setUp()
            _ = server
            await #expect(throws: DesktopError.outOfScreen(Point(x: 1280, y: 10), Size(width: 1280, height: 800))) {
                try await desktop.click(at: Point(x: 1280, y: 10), button: .left, clicks: 1)
            }
            await #expect(throws: DesktopError.self) { try await desktop.move(to: Point(x: -1, y: 0)) }
            #expect(presses(window.settle()).isEmpty)
            await desktop.close()
        }
    }
}
