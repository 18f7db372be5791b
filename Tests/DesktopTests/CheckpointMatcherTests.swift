import Desktop
import TestSupport
import Testing

/// Synthetic screens for the matcher: a gradient under seeded rectangles of random colours,
/// generated larger than the screen so that a "moved" screen is another window onto it.
private struct Scene {
    static let margin = 64
    let width: Int
    let height: Int
    let big: [UInt8]
    let bigWidth: Int

    init(width: Int = 480, height: Int = 320, seed: UInt64 = 1) {
        self.width = width
        self.height = height
        let bw = width + 2 * Self.margin
        let bh = height + 2 * Self.margin
        bigWidth = bw
        var pixels = [UInt8](repeating: 0, count: bw * bh * 3)
        for y in 0..<bh {
            for x in 0..<bw {
                let i = (y * bw + x) * 3
                pixels[i] = UInt8(x * 255 / bw)
                pixels[i + 1] = UInt8(y * 255 / bh)
                pixels[i + 2] = 128
            }
        }
        var random = SeededGenerator(seed: seed)
        for _ in 0..<(bw * bh / 150) {
            let w = Int.random(in: 2...24, using: &random)
            let h = Int.random(in: 2...16, using: &random)
            let x0 = Int.random(in: 0..<bw - w, using: &random)
            let y0 = Int.random(in: 0..<bh - h, using: &random)
            let colour = (0..<3).map { _ in UInt8.random(in: 0...255, using: &random) }
            for y in y0..<y0 + h {
                for x in x0..<x0 + w {
                    let i = (y * bw + x) * 3
                    pixels[i] = colour[0]
                    pixels[i + 1] = colour[1]
                    pixels[i + 2] = colour[2]
                }
            }
        }
        big = pixels
    }

    /// The screen after its content moved by (dx, dy).
    func screen(movedBy dx: Int = 0, _ dy: Int = 0) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let source = ((y + Self.margin - dy) * bigWidth + Self.margin - dx) * 3
            out.replaceSubrange(y * width * 3..<(y + 1) * width * 3, with: big[source..<source + width * 3])
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    static func crop(_ image: RGBImage, _ region: Rect) -> [UInt8] {
        var out: [UInt8] = []
        for y in region.y..<region.y + region.height {
            let start = (y * image.width + region.x) * 3
            out += image.pixels[start..<start + region.width * 3]
        }
        return out
    }

    func matcher(_ region: Rect) throws -> CheckpointMatcher {
        try CheckpointMatcher(rgb: Self.crop(screen(), region), width: region.width, height: region.height)
    }
}

/// Adds uniform noise in ±amount to every channel.
private func noisy(_ image: RGBImage, amount: Int, seed: UInt64) -> RGBImage {
    var random = SeededGenerator(seed: seed)
    var copy = image
    for i in copy.pixels.indices {
        copy.pixels[i] = UInt8(max(0, min(255, Int(copy.pixels[i]) + Int.random(in: -amount...amount, using: &random))))
    }
    return copy
}

/// What the matcher must return, by brute force over every offset.
private func bruteForce(_ crop: [UInt8], _ w: Int, _ h: Int, _ screen: RGBImage, _ origin: Point, _ threshold: Double)
    -> CheckpointMatch?
{
    func difference(_ dx: Int, _ dy: Int) -> Int? {
        let x0 = origin.x + dx
        let y0 = origin.y + dy
        guard x0 >= 0, y0 >= 0, x0 + w <= screen.width, y0 + h <= screen.height else { return nil }
        var sum = 0
        for y in 0..<h {
            for i in 0..<w * 3 {
                sum += abs(Int(crop[y * w * 3 + i]) - Int(screen.pixels[((y0 + y) * screen.width + x0) * 3 + i]))
            }
        }
        return sum
    }
    let total = Double(w * h * 3 * 255)
    var limit = Int(threshold * total)
    let zero = difference(0, 0)
    if let zero, zero <= min(limit, Int(CheckpointMatcher.inPlaceTolerance * total)) {
        return CheckpointMatch(matched: true, dx: 0, dy: 0, difference: Double(zero) / total)
    }
    // (0, 0) matches loosely: another offset must be twice as close.
    let inPlace = zero.flatMap { $0 <= limit ? $0 : nil }
    if let inPlace { limit = inPlace / 2 }
    var best: (sum: Int, chebyshev: Int, manhattan: Int, dy: Int, dx: Int)?
    for dy in -32...32 {
        for dx in -32...32 {
            guard let sum = difference(dx, dy), sum <= limit else { continue }
            let key = (sum: sum, chebyshev: max(abs(dx), abs(dy)), manhattan: abs(dx) + abs(dy), dy: dy, dx: dx)
            if let current = best, current <= key { continue }
            best = key
        }
    }
    if let best {
        return CheckpointMatch(matched: true, dx: best.dx, dy: best.dy, difference: Double(best.sum) / total)
    }
    return inPlace.map { CheckpointMatch(matched: true, dx: 0, dy: 0, difference: Double($0) / total) }
}

@Suite("CheckpointMatcher on synthetic screens")
struct CheckpointMatcherTests {
    private let scene = Scene()
    let region = Rect(x: 176, y: 128, width: 128, height: 64)
    var origin: Point { Point(x: region.x, y: region.y) }

    @Test("an unchanged screen matches at offset (0, 0) with no difference")
    func identical() throws {
        let match = try scene.matcher(region).match(scene.screen(), origin: origin, threshold: 0.05)
        #expect(match == CheckpointMatch(matched: true, dx: 0, dy: 0, difference: 0))
    }

    @Test(
        "content moved within ±32 px is found at that offset",
        arguments: [(7, -12), (32, 32), (-32, -32), (-5, 31), (1, 0), (0, -1), (20, 10)])
    func shifted(dx: Int, dy: Int) throws {
        let match = try scene.matcher(region).match(scene.screen(movedBy: dx, dy), origin: origin, threshold: 0.05)
        #expect(match.matched)
        #expect(match.offset == (dx, dy))
        #expect(match.difference == 0)
    }

    @Test("a nearly unchanged screen keeps offset (0, 0) even when a shift would be closer")
    func inPlaceWins() throws {
        // ±2 noise everywhere (~0.005 in place): no shifted offset is twice as close.
        let matcher = try scene.matcher(region)
        let match = matcher.match(noisy(scene.screen(), amount: 2, seed: 9), origin: origin, threshold: 0.05)
        #expect(match.matched && match.offset == (0, 0) && match.difference > 0)
    }

    @Test("a move that still matches loosely in place is followed when the shift is much closer")
    func looseInPlace() throws {
        // A 1 px move differs by ~0.025 in place (under the threshold), by 0 at (1, 0).
        let matcher = try scene.matcher(region)
        let moved = matcher.match(scene.screen(movedBy: 1, 0), origin: origin, threshold: 0.05)
        #expect(moved.matched && moved.offset == (1, 0) && moved.difference == 0)
        // Noise everywhere plus the move: (1, 0) is no longer twice as close, (0, 0) stays.
        let noisyMove = matcher.match(
            noisy(scene.screen(movedBy: 1, 0), amount: 40, seed: 11), origin: origin, threshold: 0.2)
        #expect(noisyMove.matched && noisyMove.offset == (0, 0))
    }

    @Test("content moved further than 32 px does not match", arguments: [(40, 0), (0, -40), (33, 33), (-36, 12)])
    func tooFar(dx: Int, dy: Int) throws {
        let match = try scene.matcher(region).match(scene.screen(movedBy: dx, dy), origin: origin, threshold: 0.05)
        #expect(!match.matched)
        #expect(match.offset == (0, 0))
        #expect(match.difference > 0.05)
    }

    @Test("noise below the threshold matches, noise above does not")
    func noise() throws {
        let matcher = try scene.matcher(region)
        // ±8 per channel: a mean absolute difference of about 4/255.
        let light = matcher.match(noisy(scene.screen(), amount: 8, seed: 3), origin: origin, threshold: 0.05)
        #expect(light.matched && light.offset == (0, 0))
        #expect(light.difference > 0.005 && light.difference < 0.03)
        let lightShifted = matcher.match(
            noisy(scene.screen(movedBy: 7, -12), amount: 8, seed: 4), origin: origin, threshold: 0.05)
        #expect(lightShifted.matched && lightShifted.offset == (7, -12))
        // ±80: about 35/255 on average, well above 0.05.
        let heavy = matcher.match(noisy(scene.screen(), amount: 80, seed: 5), origin: origin, threshold: 0.05)
        #expect(!heavy.matched)
        #expect(heavy.difference > 0.1)
        // The same screen passes with a threshold that allows it.
        #expect(matcher.match(noisy(scene.screen(), amount: 80, seed: 5), origin: origin, threshold: 0.3).matched)
    }

    @Test("the same shapes in other colours at the same place do not match")
    func decoy() throws {
        let matcher = try scene.matcher(region)
        var screen = scene.screen()
        for y in region.y..<region.y + region.height {
            for x in region.x..<region.x + region.width {
                let i = (y * screen.width + x) * 3
                let (r, g, b) = (screen.pixels[i], screen.pixels[i + 1], screen.pixels[i + 2])
                // Red and blue swapped and green inverted: same layout, another palette.
                screen.pixels[i] = b
                screen.pixels[i + 1] = 255 - g
                screen.pixels[i + 2] = r
            }
        }
        let match = matcher.match(screen, origin: origin, threshold: 0.05)
        #expect(!match.matched)
    }

    @Test(
        "a crop at the screen's edge is found where the window is clipped",
        arguments: [
            (Rect(x: 0, y: 0, width: 128, height: 64), 5, 3, true),
            (Rect(x: 0, y: 0, width: 128, height: 64), 0, 0, true),
            (Rect(x: 352, y: 256, width: 128, height: 64), -6, -4, true),
            (Rect(x: 0, y: 100, width: 128, height: 64), 12, -20, true),
            // Moved partly off the screen: the whole crop is no longer visible anywhere.
            (Rect(x: 0, y: 0, width: 128, height: 64), -5, 0, false),
            (Rect(x: 352, y: 256, width: 128, height: 64), 0, 8, false),
        ])
    func edge(region: Rect, dx: Int, dy: Int, found: Bool) throws {
        let match = try scene.matcher(region).match(
            scene.screen(movedBy: dx, dy), origin: Point(x: region.x, y: region.y), threshold: 0.05)
        #expect(match.matched == found)
        if found { #expect(match.offset == (dx, dy)) }
    }

    @Test("a crop that does not fit on the image at all is no match, not a crash")
    func outside() throws {
        let matcher = try scene.matcher(region)
        #expect(!matcher.match(scene.screen(), origin: Point(x: -500, y: 10), threshold: 0.05).matched)
        #expect(!matcher.match(scene.screen(), origin: Point(x: 10, y: 1000), threshold: 0.05).matched)
        let small = RGBImage(width: 100, height: 50, pixels: [UInt8](repeating: 0, count: 100 * 50 * 3))
        #expect(
            matcher.match(small, origin: Point(x: 0, y: 0), threshold: 1)
                == CheckpointMatch(matched: false, dx: 0, dy: 0, difference: 1))
    }

    @Test("repeated content: the smallest shift wins among equally good offsets")
    func ties() throws {
        // Vertical stripes with a period of 8 px: every shift by a multiple of 8 is identical.
        let width = 300
        let height = 200
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width where (x / 4) % 2 == 0 {
                pixels.replaceSubrange((y * width + x) * 3..<(y * width + x) * 3 + 3, with: [250, 250, 250])
            }
        }
        let screen = RGBImage(width: width, height: height, pixels: pixels)
        let region = Rect(x: 100, y: 60, width: 64, height: 32)
        let matcher = try CheckpointMatcher(rgb: Scene.crop(screen, region), width: 64, height: 32)
        // Moved by 3: candidates at 3 − 8 = −5 and 3 + 8 = 11 are as good; 3 is the smallest.
        var moved = pixels
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                moved[i] = ((x - 3 + 800) / 4) % 2 == 0 ? 250 : 0
                moved[i + 1] = moved[i]
                moved[i + 2] = moved[i]
            }
        }
        let match = matcher.match(
            RGBImage(width: width, height: height, pixels: moved), origin: Point(x: 100, y: 60), threshold: 0.01)
        #expect(match.matched && match.offset == (3, 0))
    }

    @Test("the pruned search returns what brute force returns", arguments: SeededGenerator.seeds(12))
    func sameAsBruteForce(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let scene = Scene(width: 260, height: 180, seed: seed + 100)
        let w = Int.random(in: 3...90, using: &random)
        let h = Int.random(in: 3...60, using: &random)
        let region = Rect(
            x: Int.random(in: 0...(260 - w), using: &random), y: Int.random(in: 0...(180 - h), using: &random),
            width: w, height: h)
        let dx = Int.random(in: -36...36, using: &random)
        let dy = Int.random(in: -36...36, using: &random)
        let screen = noisy(scene.screen(movedBy: dx, dy), amount: Int.random(in: 0...40, using: &random), seed: seed)
        let threshold = [0.02, 0.05, 0.1][Int(seed % 3)]
        let crop = Scene.crop(scene.screen(), region)
        let matcher = try CheckpointMatcher(rgb: crop, width: w, height: h)
        let origin = Point(x: region.x, y: region.y)
        let got = matcher.match(screen, origin: origin, threshold: threshold)
        let expected = bruteForce(crop, w, h, screen, origin, threshold)
        #expect(got.matched == (expected != nil), "seed \(seed): moved (\(dx), \(dy)), \(w)x\(h) at \(origin)")
        if let expected { #expect(got == expected, "seed \(seed)") }
    }

    @Test("a PNG crop decodes into the same matcher; bad crops are clear errors")
    func construction() throws {
        let crop = Scene.crop(scene.screen(), region)
        let png = try PNGEncoder.encode(crop, width: 128, height: 64)
        let matcher = try CheckpointMatcher(png: png)
        #expect(matcher.width == 128 && matcher.height == 64 && matcher.pixels == crop)
        #expect(matcher.match(scene.screen(movedBy: 7, -12), origin: origin, threshold: 0.05).offset == (7, -12))
        #expect(throws: CheckpointError.invalidPNG(.notPNG(byteCount: 5))) {
            try CheckpointMatcher(png: Array("hello".utf8))
        }
        #expect(throws: CheckpointError.pixelCount(expected: 12, got: 11, width: 2, height: 2)) {
            try CheckpointMatcher(rgb: [UInt8](repeating: 0, count: 11), width: 2, height: 2)
        }
        #expect(throws: CheckpointError.emptyCrop(width: 0, height: 4)) {
            try CheckpointMatcher(rgb: [], width: 0, height: 4)
        }
    }
}

@Suite("PNGDecoder")
struct PNGDecoderTests {
    @Test("decodes what the encoder wrote, pixel for pixel")
    func roundTrip() throws {
        let rgb = (0..<(37 * 23 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let decoded = try PNGDecoder.decodeRGB(try PNGEncoder.encode(rgb, width: 37, height: 23))
        #expect(decoded.width == 37 && decoded.height == 23 && decoded.rgb == rgb)
    }

    @Test("non-PNG, truncated and too large images are distinct errors")
    func errors() throws {
        #expect(throws: PNGDecodingError.notPNG(byteCount: 3)) { try PNGDecoder.decodeRGB([1, 2, 3]) }
        let png = try PNGEncoder.encode([UInt8](repeating: 90, count: 64 * 64 * 3), width: 64, height: 64)
        #expect(throws: PNGDecodingError.tooLarge(width: 64, height: 64, maximumPixels: 100)) {
            try PNGDecoder.decodeRGB(png, maximumPixels: 100)
        }
        do {
            _ = try PNGDecoder.decodeRGB(Array(png.prefix(png.count - 30)))
            Issue.record("a truncated PNG decoded")
        } catch {
            guard case .unreadable(let message) = error else {
                Issue.record("expected unreadable, got \(error)")
                return
            }
            #expect(!message.isEmpty)
        }
    }
}

@Suite("CheckpointCapturePlan")
struct CheckpointCapturePlanTests {
    @Test("same size: the region and ±32 px, clipped to the screen")
    func identity() throws {
        let screen = Size(width: 1920, height: 1080)
        let plan = try CheckpointCapturePlan(
            region: Rect(x: 100, y: 100, width: 128, height: 64), recorded: screen, screen: screen)
        #expect(plan.capture == Rect(x: 68, y: 68, width: 192, height: 128))
        #expect(plan.resampledSize == Size(width: 192, height: 128) && !plan.isScaled)
        #expect(plan.regionOrigin == Point(x: 32, y: 32))
        let corner = try CheckpointCapturePlan(
            region: Rect(x: 0, y: 1016, width: 128, height: 64), recorded: nil, screen: screen)
        #expect(corner.capture == Rect(x: 0, y: 984, width: 160, height: 96))
        #expect(corner.regionOrigin == Point(x: 0, y: 32))
    }

    @Test("another screen size: the window maps with the coordinates' scale")
    func scaled() throws {
        let plan = try CheckpointCapturePlan(
            region: Rect(x: 100, y: 100, width: 128, height: 64), recorded: Size(width: 1280, height: 720),
            screen: Size(width: 1920, height: 1080))
        // Trajectory window [68, 260) × [68, 196) at scale 1.5.
        #expect(plan.capture == Rect(x: 102, y: 102, width: 288, height: 192))
        #expect(plan.resampledSize == Size(width: 192, height: 128) && plan.isScaled)
        #expect(plan.regionOrigin == Point(x: 32, y: 32))
        let edge = try CheckpointCapturePlan(
            region: Rect(x: 1216, y: 0, width: 64, height: 32), recorded: Size(width: 1280, height: 720),
            screen: Size(width: 1024, height: 768))
        // Scales 4/5 and 16/15: the window widens to multiples of 5 and 15 trajectory pixels,
        // whose edges are whole screen pixels ([1180, 1280) → [944, 1024), [0, 75) → [0, 80)).
        #expect(edge.capture == Rect(x: 944, y: 0, width: 80, height: 80))
        #expect(edge.resampledSize == Size(width: 100, height: 75) && edge.regionOrigin == Point(x: 36, y: 0))
    }

    @Test("a region outside the recorded screen is a clear error")
    func outside() {
        let recorded = Size(width: 1280, height: 720)
        #expect(
            throws: CheckpointError.regionOutsideRecordedScreen(
                region: Rect(x: 1200, y: 0, width: 128, height: 64), recorded: recorded)
        ) {
            try CheckpointCapturePlan(
                region: Rect(x: 1200, y: 0, width: 128, height: 64), recorded: recorded,
                screen: Size(width: 1920, height: 1080))
        }
    }
}
