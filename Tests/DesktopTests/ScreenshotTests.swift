import Desktop
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Screenshots of known pixels")
    struct ScreenshotTests {
        static let rects: [(x: Int, y: Int, width: Int, height: Int, rgb: UInt)] = [
            (0, 0, 640, 400, 0xFF0000), (640, 0, 640, 400, 0x00FF00),
            (0, 400, 640, 400, 0x0000FF), (640, 400, 640, 400, 0x123456),
            (100, 100, 1, 1, 0xFEDCBA), (1279, 799, 1, 1, 0xABCDEF),
        ]

        private func paintedScreen() throws -> (XvfbServer, TestWindow) {
            let server = try XvfbServer(width: 1280, height: 800)
            let window = try TestWindow(display: server.display, x: 0, y: 0, width: 1280, height: 800)
            window.paint(Self.rects)
            return (server, window)
        }

        private func rgb(_ value: UInt) -> (UInt8, UInt8, UInt8) {
            (UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
        }

        @Test("native screenshot decodes to exactly the painted pixels", arguments: [true, false])
        func nativePixels(sharedMemory: Bool) async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display, useSharedMemory: sharedMemory))
            #expect(await desktop.usesSharedMemory() == sharedMemory)
            let shot = try await desktop.screenshot(ScreenshotOptions())
            let image = try RGBImage(png: shot.png)
            let size = try await desktop.dimensions()
            #expect(image.width == size.width && image.height == size.height)
            #expect(size == Size(width: 1280, height: 800))
            for (x, y, expected) in [
                (10, 10, 0xFF0000), (1000, 10, 0x00FF00), (10, 700, 0x0000FF), (1000, 700, 0x123456),
                (100, 100, 0xFEDCBA), (1279, 799, 0xABCDEF), (639, 399, 0xFF0000), (640, 400, 0x123456),
            ] {
                let p = image.pixel(x: x, y: y)
                #expect(p == rgb(UInt(expected)), "pixel \(x),\(y)")
            }
            // Every pixel of each quadrant, not just samples.
            var wrong = 0
            for y in 0..<800 {
                for x in 0..<1280 where !(x == 100 && y == 100) && !(x == 1279 && y == 799) {
                    let expected: UInt = y < 400 ? (x < 640 ? 0xFF0000 : 0x00FF00) : (x < 640 ? 0x0000FF : 0x123456)
                    if image.pixel(x: x, y: y) != rgb(expected) { wrong += 1 }
                }
            }
            #expect(wrong == 0)
            // A second capture reuses the segment and still sees the current screen.
            window.paint([(0, 0, 10, 10, 0x010203)])
            let again = try RGBImage(png: try await desktop.screenshot(ScreenshotOptions()).png)
            #expect(again.pixel(x: 5, y: 5) == (1, 2, 3))
            await desktop.close()
        }

        @Test("exact scaling gives the asked size and reports the scale")
        func exactScale() async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display))
            let shot = try await desktop.screenshot(ScreenshotOptions(width: 640, height: 300, mode: .exact))
            let image = try RGBImage(png: shot.png)
            #expect(image.width == 640 && image.height == 300)
            #expect(shot.scaleX == 0.5 && shot.scaleY == 0.375)
            #expect(image.pixel(x: 100, y: 50) == (255, 0, 0))
            #expect(image.pixel(x: 500, y: 250) == (0x12, 0x34, 0x56))
            #expect(shot.screenPoint(forImagePoint: Point(x: 320, y: 150)) == Point(x: 640, y: 400))
            await desktop.close()
        }

        @Test("aspect_fit letterboxes with black bars and keeps the aspect ratio")
        func aspectFit() async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display))
            // 1280x800 into 800x800: scale 0.625 → 800x500 centred, bars of 150 above and below.
            let shot = try await desktop.screenshot(ScreenshotOptions(width: 800, height: 800, mode: .aspectFit))
            let image = try RGBImage(png: shot.png)
            #expect(image.width == 800 && image.height == 800)
            #expect(shot.scaleX == 0.625 && shot.scaleY == 0.625 && shot.offsetX == 0 && shot.offsetY == 150)
            #expect(image.pixel(x: 400, y: 10) == (0, 0, 0))
            #expect(image.pixel(x: 400, y: 790) == (0, 0, 0))
            #expect(image.pixel(x: 10, y: 160) == (255, 0, 0))
            #expect(image.pixel(x: 790, y: 640) == (0x12, 0x34, 0x56))
            #expect(shot.screenPoint(forImagePoint: Point(x: 400, y: 400)) == Point(x: 640, y: 400))
            await desktop.close()
        }

        @Test("aspect_fill crops the overflow and keeps the aspect ratio")
        func aspectFill() async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display))
            // 1280x800 into 400x400: scale 0.5 → 640x400, 120 cropped on each side.
            let shot = try await desktop.screenshot(ScreenshotOptions(width: 400, height: 400, mode: .aspectFill))
            let image = try RGBImage(png: shot.png)
            #expect(image.width == 400 && image.height == 400)
            #expect(shot.scaleX == 0.5 && shot.offsetX == -120 && shot.offsetY == 0)
            #expect(image.pixel(x: 0, y: 0) == (255, 0, 0))
            #expect(image.pixel(x: 399, y: 0) == (0, 255, 0))
            #expect(image.pixel(x: 399, y: 399) == (0x12, 0x34, 0x56))
            #expect(shot.screenPoint(forImagePoint: Point(x: 200, y: 200)) == Point(x: 640, y: 400))
            await desktop.close()
        }

        @Test("a width alone keeps the aspect ratio; downscaling averages instead of skipping pixels")
        func widthOnlyAndAveraging() async throws {
            let server = try XvfbServer(width: 1280, height: 800)
            let window = try TestWindow(display: server.display, x: 0, y: 0, width: 1280, height: 800)
            // One-pixel black and white columns: nearest-neighbour would give pure black or white.
            window.paint(
                [(0, 0, 1280, 800, 0xFFFFFF)] + stride(from: 0, to: 1280, by: 2).map { ($0, 0, 1, 800, UInt(0)) })
            let desktop = try await X11Desktop(.init(displayName: server.display))
            let shot = try await desktop.screenshot(ScreenshotOptions(width: 320))
            let image = try RGBImage(png: shot.png)
            #expect(image.width == 320 && image.height == 200)
            let grey = image.pixel(x: 160, y: 100)
            #expect((120...135).contains(grey.r) && grey.r == grey.g && grey.g == grey.b)
            await desktop.close()
        }

        @Test("PNG settings are honoured and decode to the same pixels")
        func pngSettings() async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display))
            let fast = try RGBImage(png: try await desktop.screenshot(ScreenshotOptions()).png)
            await desktop.setPNGSettings(PNGSettings(level: 9, filter: .adaptive, strategy: .default))
            let small = try RGBImage(png: try await desktop.screenshot(ScreenshotOptions()).png)
            #expect(fast == small)
            await desktop.close()
        }

        @Test(
            "the multi-core encoder gives the same pixels as libpng's",
            arguments: [
                (PNGSettings.Filter.up, 2), (.sub, 2), (.none, 3), (.up, 4),
            ])
        func parallelEncoding(_ filter: PNGSettings.Filter, _ threads: Int) async throws {
            let (server, window) = try paintedScreen()
            window.paint([(200, 200, 600, 300, 0x336699), (300, 250, 5, 400, 0xFFEE00)])
            let desktop = try await X11Desktop(.init(displayName: server.display))
            await desktop.setPNGSettings(PNGSettings(filter: filter, threads: 1))
            let serial = try await desktop.screenshot(ScreenshotOptions())
            await desktop.setPNGSettings(PNGSettings(filter: filter, threads: threads))
            let parallel = try await desktop.screenshot(ScreenshotOptions())
            // libpng checks every CRC and the Adler-32 of the joined streams while decoding.
            #expect(try RGBImage(png: parallel.png) == RGBImage(png: serial.png))
            await desktop.close()
        }

        @Test("an invalid size or monitor is a clear error")
        func invalidOptions() async throws {
            let (server, window) = try paintedScreen()
            _ = window
            let desktop = try await X11Desktop(.init(displayName: server.display))
            await #expect(throws: DesktopError.self) { try await desktop.screenshot(ScreenshotOptions(width: 0)) }
            await #expect(throws: DesktopError.self) { try await desktop.screenshot(ScreenshotOptions(monitor: 5)) }
            let monitor = try await desktop.screenshot(ScreenshotOptions(monitor: 0))
            #expect(monitor.width == 1280 && monitor.height == 800)
            await desktop.close()
        }
    }
}
