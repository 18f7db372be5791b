import CX11
import Desktop
import TestSupport
import Testing

extension OnXvfb {
    @Suite("CheckpointMatcher on a real screen")
    struct CheckpointMatcherOnScreenTests {
        /// A window of seeded random colour blocks (`block` px), unique under any small shift.
        private func patternWindow(_ server: XvfbServer, x: Int, y: Int, width: Int, height: Int, block: Int) throws
            -> TestWindow
        {
            let window = try TestWindow(display: server.display, x: x, y: y, width: width, height: height)
            var random = SeededGenerator(seed: 42)
            var rects: [(x: Int, y: Int, width: Int, height: Int, rgb: UInt)] = []
            for by in stride(from: 0, to: height, by: block) {
                for bx in stride(from: 0, to: width, by: block) {
                    rects.append((bx, by, block, block, UInt.random(in: 0...0xFFFFFF, using: &random)))
                }
            }
            window.paint(rects)
            return window
        }

        private func move(_ window: TestWindow, toX x: Int, y: Int) {
            XMoveWindow(window.display, window.window, Int32(x), Int32(y))
            XSync(window.display, 0)
        }

        @Test(
            "a crop taken with screenshot(region:) is found 10 px to the right after the window moves",
            arguments: [true, false])
        func windowMoved(sharedMemory: Bool) async throws {
            let server = try XvfbServer(width: 1280, height: 800)
            let window = try patternWindow(server, x: 200, y: 200, width: 400, height: 300, block: 10)
            let desktop = try await X11Desktop(.init(displayName: server.display, useSharedMemory: sharedMemory))
            let region = Rect(x: 300, y: 300, width: 128, height: 64)
            let shot = try await desktop.screenshot(ScreenshotOptions(region: region))
            #expect(shot.source == region)
            let matcher = try CheckpointMatcher(png: shot.png)

            let unchanged = try await desktop.checkCheckpoint(matcher, region: region, recorded: nil, threshold: 0.05)
            #expect(unchanged == CheckpointMatch(matched: true, dx: 0, dy: 0, difference: 0))

            move(window, toX: 210, y: 200)
            var last: CheckpointMatch?
            let found = try await eventually {
                last = try await desktop.checkCheckpoint(matcher, region: region, recorded: nil, threshold: 0.05)
                return last?.dx == 10 && last?.dy == 0
            }
            #expect(found, "last check: \(String(describing: last))")
            #expect(last?.matched == true && last?.difference == 0)

            // A region of another size than the crop, or a threshold out of 0…1: clear errors.
            let wrong = Rect(x: 300, y: 300, width: 64, height: 64)
            await #expect(
                throws: CheckpointError.cropDoesNotMatchRegion(crop: Size(width: 128, height: 64), region: wrong)
            ) {
                try await desktop.checkCheckpoint(matcher, region: wrong, recorded: nil, threshold: 0.05)
            }
            await #expect(throws: CheckpointError.invalidThreshold(5)) {
                try await desktop.checkCheckpoint(matcher, region: region, recorded: nil, threshold: 5)
            }

            // Moved beyond the search window: no match.
            move(window, toX: 250, y: 200)
            let gone = try await eventually {
                try await !desktop.checkCheckpoint(matcher, region: region, recorded: nil, threshold: 0.05).matched
            }
            #expect(gone)
            await desktop.close()
        }

        @Test("on a screen twice the recorded size, region and shift are in trajectory pixels")
        func scaledScreen() async throws {
            let server = try XvfbServer(width: 1280, height: 800)
            // Blocks of 16 screen px on even positions: 8 trajectory px after halving.
            let window = try patternWindow(server, x: 200, y: 200, width: 480, height: 320, block: 16)
            let desktop = try await X11Desktop(.init(displayName: server.display))
            let recorded = Size(width: 640, height: 400)
            // The crop as a machine with a 640x400 screen and the same layout would have recorded it.
            let small = try RGBImage(png: try await desktop.screenshot(ScreenshotOptions(width: 640, height: 400)).png)
            let region = Rect(x: 150, y: 150, width: 64, height: 32)
            var crop: [UInt8] = []
            for y in region.y..<region.y + region.height {
                let start = (y * small.width + region.x) * 3
                crop += small.pixels[start..<start + region.width * 3]
            }
            let matcher = try CheckpointMatcher(rgb: crop, width: region.width, height: region.height)

            let unchanged = try await desktop.checkCheckpoint(
                matcher, region: region, recorded: recorded, threshold: 0.05)
            #expect(unchanged.matched && unchanged.offset == (0, 0))

            // 20 screen px to the right and 12 up = (10, -6) trajectory px.
            move(window, toX: 220, y: 188)
            var last: CheckpointMatch?
            let found = try await eventually {
                last = try await desktop.checkCheckpoint(matcher, region: region, recorded: recorded, threshold: 0.05)
                return last?.dx == 10 && last?.dy == -6
            }
            #expect(found, "last check: \(String(describing: last))")
            #expect(last?.matched == true)
            await desktop.close()
        }

        @Test(
            "capturePixels returns exactly the region's pixels; a region off the screen is an error",
            arguments: [true, false])
        func capturePixels(sharedMemory: Bool) async throws {
            let server = try XvfbServer(width: 1280, height: 800)
            let window = try TestWindow(display: server.display, x: 0, y: 0, width: 1280, height: 800)
            window.paint([(0, 0, 1280, 800, 0x102030), (500, 400, 3, 2, 0xFF8800)])
            let desktop = try await X11Desktop(.init(displayName: server.display, useSharedMemory: sharedMemory))
            let image = try await desktop.capturePixels(region: Rect(x: 499, y: 399, width: 5, height: 4))
            #expect(image.width == 5 && image.height == 4)
            #expect(image.pixel(x: 0, y: 0) == (0x10, 0x20, 0x30))
            #expect(image.pixel(x: 1, y: 1) == (0xFF, 0x88, 0x00) && image.pixel(x: 3, y: 2) == (0xFF, 0x88, 0x00))
            #expect(image.pixel(x: 4, y: 3) == (0x10, 0x20, 0x30))
            // Another region of the same size reuses the segment and reads the new place.
            let moved = try await desktop.capturePixels(region: Rect(x: 500, y: 400, width: 5, height: 4))
            #expect(moved.pixel(x: 0, y: 0) == (0xFF, 0x88, 0x00) && moved.pixel(x: 3, y: 0) == (0x10, 0x20, 0x30))
            // A whole screenshot in between does not disturb either capture.
            _ = try await desktop.screenshot(ScreenshotOptions())
            #expect(try await desktop.capturePixels(region: Rect(x: 499, y: 399, width: 5, height: 4)) == image)
            await #expect(throws: DesktopError.self) {
                try await desktop.capturePixels(region: Rect(x: 1200, y: 0, width: 100, height: 10))
            }
            await desktop.close()
        }
    }
}
