import Desktop
import Foundation

/// Finds a colour in a screenshot the way a test model has to: by reading its pixels.
enum ScreenshotReader {
    /// The centre of the bounding box of the largest 4-connected region of pixels within ±8 per
    /// channel of `target`, in the image's pixels; nil when no pixel matches.
    static func locate(_ target: ColorTarget, in image: RGBImage, tolerance: Int = 8) -> (x: Int, y: Int)? {
        let width = image.width
        let height = image.height
        guard width > 0, height > 0 else { return nil }
        let r = Int(target.red)
        let g = Int(target.green)
        let b = Int(target.blue)
        var matches = [Bool](repeating: false, count: width * height)
        image.pixels.withUnsafeBufferPointer { pixels in
            for index in 0..<(width * height) {
                let base = index * 3
                matches[index] =
                    abs(Int(pixels[base]) - r) <= tolerance && abs(Int(pixels[base + 1]) - g) <= tolerance
                    && abs(Int(pixels[base + 2]) - b) <= tolerance
            }
        }
        var seen = [Bool](repeating: false, count: width * height)
        var best: (count: Int, minX: Int, minY: Int, maxX: Int, maxY: Int)?
        var stack: [Int] = []
        for start in 0..<(width * height) where matches[start] && !seen[start] {
            seen[start] = true
            stack.append(start)
            var region = (count: 0, minX: Int.max, minY: Int.max, maxX: Int.min, maxY: Int.min)
            while let index = stack.popLast() {
                let x = index % width
                let y = index / width
                region.count += 1
                region.minX = min(region.minX, x)
                region.maxX = max(region.maxX, x)
                region.minY = min(region.minY, y)
                region.maxY = max(region.maxY, y)
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                where nx >= 0 && ny >= 0 && nx < width && ny < height {
                    let next = ny * width + nx
                    if matches[next] && !seen[next] {
                        seen[next] = true
                        stack.append(next)
                    }
                }
            }
            if region.count > (best?.count ?? 0) { best = region }
        }
        guard let best else { return nil }
        return ((best.minX + best.maxX) / 2, (best.minY + best.maxY) / 2)
    }

    /// A cache detection question (`same_state`): the recorded crop and the same region now
    /// (the first two images) show the same state when their dominant colours agree, within 16
    /// per channel. A changed label on the same button is the same state; another window there
    /// is not. Read from the pixels, like every answer of this model.
    static func sameState(_ images: [[UInt8]]) -> (same: Bool, reason: String) {
        guard images.count >= 2, let recorded = try? RGBImage(png: images[0]),
            let current = try? RGBImage(png: images[1])
        else { return (false, "the question holds no two readable images") }
        let was = dominantColour(recorded)
        let now = dominantColour(current)
        let same = zip(was, now).allSatisfy { abs(Int($0) - Int($1)) <= 16 }
        func hex(_ rgb: [UInt8]) -> String { "#" + rgb.map { String(format: "%02x", $0) }.joined() }
        return same
            ? (true, "the region is \(hex(now)) as recorded")
            : (false, "the region was \(hex(was)) and is \(hex(now)) now")
    }

    /// The most frequent colour, counted in 32 levels per channel (the level's middle).
    static func dominantColour(_ image: RGBImage) -> [UInt8] {
        var counts = [Int](repeating: 0, count: 32 * 32 * 32)
        image.pixels.withUnsafeBufferPointer { pixels in
            for index in stride(from: 0, to: image.width * image.height * 3, by: 3) {
                let key = Int(pixels[index] >> 3) << 10 | Int(pixels[index + 1] >> 3) << 5 | Int(pixels[index + 2] >> 3)
                counts[key] += 1
            }
        }
        let key = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        return [UInt8((key >> 10 & 31) << 3 | 4), UInt8((key >> 5 & 31) << 3 | 4), UInt8((key & 31) << 3 | 4)]
    }
}
