/// The outcome of comparing a checkpoint's crop with the screen.
public struct CheckpointMatch: Sendable, Hashable, CustomStringConvertible {
    /// Whether some offset within the search window differs by at most the threshold.
    public var matched: Bool
    /// The shift from the recorded region to where the crop was found, in the pixels of the
    /// compared image (trajectory pixels for `checkCheckpoint`): the step's action moves by it.
    /// (0, 0) when nothing matched.
    public var dx: Int
    public var dy: Int
    /// Mean absolute difference per channel over the crop, 0 (identical) … 1, at the returned
    /// offset. When nothing matched it is the difference at offset (0, 0), for the log; 1 when
    /// the crop does not even fit there.
    public var difference: Double

    public init(matched: Bool, dx: Int, dy: Int, difference: Double) {
        self.matched = matched
        self.dx = dx
        self.dy = dy
        self.difference = difference
    }

    public var offset: (dx: Int, dy: Int) { (dx, dy) }

    public var description: String {
        let rounded = (difference * 10000).rounded() / 10000
        return matched
            ? "matched at offset (\(dx), \(dy)), difference \(rounded)"
            : "no match, difference \(rounded) at offset (0, 0)"
    }
}

/// Why a checkpoint cannot be checked at all (as opposed to not matching).
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case invalidPNG(PNGDecodingError)
    case emptyCrop(width: Int, height: Int)
    case pixelCount(expected: Int, got: Int, width: Int, height: Int)
    case cropTooLarge(width: Int, height: Int, maximum: Int)
    /// The checkpoint's PNG is not the size of its region.
    case cropDoesNotMatchRegion(crop: Size, region: Rect)
    /// The region lies (partly) outside the screen the trajectory was recorded on.
    case regionOutsideRecordedScreen(region: Rect, recorded: Size)
    case invalidSize(Size, what: String)
    case invalidThreshold(Double)
    case invalidMaximumShift(Int)

    public var description: String {
        switch self {
        case .invalidPNG(let error):
            return "the checkpoint's png cannot be used: \(error)"
        case .emptyCrop(let width, let height):
            return "the checkpoint's crop is empty (\(width)x\(height))"
        case .pixelCount(let expected, let got, let width, let height):
            return "a \(width)x\(height) RGB image needs \(expected) bytes, got \(got)"
        case .cropTooLarge(let width, let height, let maximum):
            return "the checkpoint's crop is \(width)x\(height); at most \(maximum)x\(maximum) is accepted"
        case .cropDoesNotMatchRegion(let crop, let region):
            return
                "the checkpoint's png is \(crop.width)x\(crop.height) but its region is \(region.width)x\(region.height); record the checkpoint again"
        case .regionOutsideRecordedScreen(let region, let recorded):
            return
                "the checkpoint region [\(region.x), \(region.y), \(region.width), \(region.height)] is not inside the recorded \(recorded.width)x\(recorded.height) screen"
        case .invalidSize(let size, let what):
            return "the \(what) \(size.width)x\(size.height) is not a valid size"
        case .invalidThreshold(let value):
            return "a checkpoint threshold must be between 0 and 1, got \(value)"
        case .invalidMaximumShift(let value):
            return "the checkpoint search shift must be between 0 and 256 pixels, got \(value)"
        }
    }
}

/// Finds a checkpoint's recorded crop on the current screen, allowing a small shift.
///
/// Built once per checkpoint (the crop is decoded and summarised once), then asked every
/// poll. Pure and `Sendable`: no X, safe to call from any task.
///
/// ## What "difference" means
/// The mean absolute difference per channel between the crop and the screen under it,
/// normalised to 0…1: `Σ|crop − screen| / (w · h · 3 · 255)`. A threshold of 0.05 allows
/// about 13/255 on average: antialiasing, a blinking caret, a clock in a corner, but not a
/// different button or text.
///
/// ## Which offset wins
/// Offsets `(dx, dy)` with `|dx|, |dy| ≤ maximumShift` where the whole crop lies on the
/// compared image. (0, 0) wins without a search when it differs by at most
/// `inPlaceTolerance` (0.015): an unchanged screen is the common case, must cost almost nothing
/// and must not move the action. When (0, 0) matches only loosely (difference between 0.015
/// and the threshold), a shifted offset replaces it only if its difference is at most half of
/// (0, 0)'s: with sparse content (a few words on a dark terminal, a gradient) a crop moved by
/// 20 px still "matches" in place at 0.05, and clicking there would miss the target.
/// Otherwise the offset with the smallest difference wins; exact ties (repeated patterns,
/// flat areas) go to the smallest shift (Chebyshev, then Manhattan distance), the most
/// plausible move.
///
/// ## How it stays fast (≤ 10 ms on 1920x1080 with the full ±32 window)
/// A brute-force search compares 65 × 65 = 4,225 offsets × w·h·3 bytes (~100 M byte
/// differences for a 128x64 crop), several times the budget. Instead the search is an exact
/// branch and bound over a small pyramid:
/// 1. Fast path: compare at (0, 0) first, stopping as soon as the running sum exceeds the
///    threshold. An unchanged screen costs one pass over the crop.
/// 2. Lower bounds: sums of 4x4 (then 2x2) blocks of the crop and of the screen. For any
///    partition into blocks, `Σ_blocks |ΣA − ΣB| ≤ Σ|A − B|` (triangle inequality), so the
///    block-sum difference at an offset is a lower bound of the full difference there, and
///    2x2 blocks give a tighter bound than 4x4. The screen's block sums are computed for every
///    phase (16 for 4x4, 4 for 2x2), so every integer offset has a bound, not only multiples
///    of the block size: a coarse search that only kept "the best few" grid candidates can
///    lose the true position in text, where blurred glyphs all look alike; bounds never do.
///    An offset whose 4x4 bound exceeds the threshold is dropped after 1/16 of the work of a
///    full comparison, usually after a few block rows (early exit).
/// 3. Refinement: the surviving offsets, in order of their 2x2 bound, are compared at full
///    resolution with early exit against the best difference found so far; the loop stops
///    when the next bound exceeds it. The result is exactly what brute force would return.
/// Inner loops run over unsafe buffers on rows of `UInt8` / `UInt16`, which the compiler
/// vectorises (see `ImageScaler` for why array subscripts are too slow here).
///
/// Measured on the benchmark scene (1920x1080 Xvfb, 2 cores, release, a 128x64 crop of
/// terminal text; `desktop-bench --only checkpoint`): the match alone takes 4 µs unchanged and
/// ~1.2 ms for a full search, moved or not matching; a whole `checkCheckpoint` poll 0.1 ms
/// and ~1.3 ms.
public struct CheckpointMatcher: Sendable {
    /// The crop's size in pixels.
    public let width: Int
    public let height: Int
    /// How far the crop may have moved on each axis, in pixels of the compared image.
    public let maximumShift: Int
    /// The crop as packed RGB.
    public let pixels: [UInt8]

    /// The block sizes of the lower-bound levels, coarse first.
    static let blockSizes = [4, 2]
    /// 2048x2048: far beyond a ~128x64 checkpoint crop; bounds the work of one check.
    public static let maximumCropSide = 2048
    public static let defaultMaximumShift = 32
    /// A difference at (0, 0) up to this (a blinking caret in a 128x64 crop is ~0.0016) is
    /// "unchanged": accepted without searching. Between it and the threshold (0, 0) still
    /// matches but the search runs, because in sparse content a moved crop differs little in
    /// place: on the benchmark scene, moved by (20, 10), a dark terminal with a few words
    /// differs by 0.025, the end of lines on white by 0.0098. The search is cheap there: its
    /// limit is half of (0, 0)'s difference, so most offsets fail their first block row.
    /// 0.015: a near-flat crop (the middle of a text field, a terminal) differs by about 0.01
    /// in place from small repaints alone; at 0.002 such a crop "moved" to a flatter spot 32 px
    /// away and the replay clicked there (scripts/bench-planner --replay).
    public static let inPlaceTolerance = 0.015

    struct Level: Sendable {
        let block: Int
        let columns: Int
        let rows: Int
        /// `columns × rows × 3` sums of `block × block` pixels per channel.
        let sums: [UInt16]
    }

    /// A matcher for a crop given as packed RGB (`width × height × 3` bytes).
    public init(rgb: [UInt8], width: Int, height: Int, maximumShift: Int = defaultMaximumShift)
        throws(CheckpointError)
    {
        guard width > 0, height > 0 else { throw .emptyCrop(width: width, height: height) }
        guard width <= Self.maximumCropSide, height <= Self.maximumCropSide else {
            throw .cropTooLarge(width: width, height: height, maximum: Self.maximumCropSide)
        }
        guard rgb.count == width * height * 3 else {
            throw .pixelCount(expected: width * height * 3, got: rgb.count, width: width, height: height)
        }
        guard (0...256).contains(maximumShift) else { throw .invalidMaximumShift(maximumShift) }
        self.width = width
        self.height = height
        self.maximumShift = maximumShift
        self.pixels = rgb
    }

    /// A matcher for a checkpoint's `png` (already base64-decoded).
    public init(png: [UInt8], maximumShift: Int = defaultMaximumShift) throws(CheckpointError) {
        let decoded: (width: Int, height: Int, rgb: [UInt8])
        do {
            decoded = try PNGDecoder.decodeRGB(png, maximumPixels: Self.maximumCropSide * Self.maximumCropSide)
        } catch {
            throw .invalidPNG(error)
        }
        try self.init(rgb: decoded.rgb, width: decoded.width, height: decoded.height, maximumShift: maximumShift)
    }

    /// Compares the crop with `image`, where the unshifted crop's top-left corner is at
    /// `origin` (it may lie partly outside `image`: only offsets where the whole crop fits
    /// are considered). `threshold` is the largest mean difference (0…1) that still matches.
    public func match(_ image: RGBImage, origin: Point, threshold: Double) -> CheckpointMatch {
        guard image.width > 0, image.height > 0, image.pixels.count >= image.width * image.height * 3 else {
            return CheckpointMatch(matched: false, dx: 0, dy: 0, difference: 1)
        }
        return image.pixels.withUnsafeBufferPointer { screen in
            match(screen: screen, width: image.width, height: image.height, origin: origin, threshold: threshold)
        }
    }

    /// `match(_:origin:threshold:)` over packed RGB rows of `width` pixels.
    public func match(
        screen: UnsafeBufferPointer<UInt8>, width screenWidth: Int, height screenHeight: Int, origin: Point,
        threshold: Double
    ) -> CheckpointMatch {
        guard let base = screen.baseAddress, screenWidth > 0, screenHeight > 0,
            screen.count >= screenWidth * screenHeight * 3
        else { return CheckpointMatch(matched: false, dx: 0, dy: 0, difference: 1) }
        let total = Double(width * height * 3 * 255)
        // The largest sum of absolute differences that still matches (halved below when (0, 0)
        // matches loosely).
        var limit: Int
        if threshold.isNaN || threshold < 0 {
            limit = -1
        } else {
            limit = Int(min(threshold, 1) * total)
        }
        let context = Context(
            matcher: self, screen: base, screenWidth: screenWidth, screenHeight: screenHeight, origin: origin)
        let shift = maximumShift
        // Offsets where the whole crop lies on the screen (empty when it cannot fit anywhere).
        let x0 = max(-shift, -origin.x)
        let y0 = max(-shift, -origin.y)
        let xs = x0..<max(x0, min(shift, screenWidth - width - origin.x) + 1)
        let ys = y0..<max(y0, min(shift, screenHeight - height - origin.y) + 1)
        func noMatch() -> CheckpointMatch {
            let atOrigin =
                xs.contains(0) && ys.contains(0) ? Double(context.difference(dx: 0, dy: 0, above: .max)) / total : 1
            return CheckpointMatch(matched: false, dx: 0, dy: 0, difference: atOrigin)
        }
        guard !xs.isEmpty, !ys.isEmpty, limit >= 0 else { return noMatch() }

        // 1. Fast path: the screen has not moved. When (0, 0) matches only loosely, a shifted
        // offset must be at least twice as close to replace it.
        var inPlace: Int?
        if xs.contains(0), ys.contains(0) {
            let sum = context.difference(dx: 0, dy: 0, above: limit)
            if sum <= min(limit, Int(Self.inPlaceTolerance * total)) {
                return CheckpointMatch(matched: true, dx: 0, dy: 0, difference: Double(sum) / total)
            }
            if sum <= limit {
                inPlace = sum
                limit = sum / 2
            }
        }
        func unmatched() -> CheckpointMatch {
            guard let inPlace else { return noMatch() }
            return CheckpointMatch(matched: true, dx: 0, dy: 0, difference: Double(inPlace) / total)
        }

        // 2. Lower bounds, coarse level first; each level only looks at the survivors of the last.
        var candidates: [Candidate] = []
        candidates.reserveCapacity(xs.count * ys.count)
        for dy in ys {
            for dx in xs where dx != 0 || dy != 0 {
                candidates.append(Candidate(dx: dx, dy: dy, bound: 0))
            }
        }
        // The crop's block sums are made here, not with the matcher: an unchanged screen (the
        // usual replay) never needs them, and a replay decodes one matcher per step.
        let levels = Self.blockSizes.map { Self.cropLevel(pixels, width: width, height: height, block: $0) }
        for level in levels where level.columns > 0 && level.rows > 0 {
            let sums = BlockSums(context, level: level)
            var survivors: [Candidate] = []
            survivors.reserveCapacity(candidates.count)
            for candidate in candidates {
                let bound = sums.lowerBound(level, dx: candidate.dx, dy: candidate.dy, above: limit)
                if bound <= limit { survivors.append(Candidate(dx: candidate.dx, dy: candidate.dy, bound: bound)) }
            }
            candidates = survivors
            if candidates.isEmpty { return unmatched() }
        }

        // 3. Full resolution, most promising first, bounded by the best found so far.
        candidates.sort { $0.order < $1.order }
        var best: Candidate?
        var bestSum = Int.max
        for candidate in candidates {
            let bound = min(limit, bestSum)
            if candidate.bound > bound { break }
            let sum = context.difference(dx: candidate.dx, dy: candidate.dy, above: bound)
            guard sum <= bound else { continue }
            if sum < bestSum || (sum == bestSum && best.map { candidate.rank < $0.rank } ?? true) {
                best = candidate
                bestSum = sum
            }
        }
        guard let best else { return unmatched() }
        return CheckpointMatch(matched: true, dx: best.dx, dy: best.dy, difference: Double(bestSum) / total)
    }

    /// The crop's block sums for one level (partial blocks at the right and bottom edges are
    /// left out: they only make the bound a little looser).
    private static func cropLevel(_ rgb: [UInt8], width: Int, height: Int, block: Int) -> Level {
        let columns = width / block
        let rows = height / block
        var sums = [UInt16](repeating: 0, count: columns * rows * 3)
        rgb.withUnsafeBufferPointer { src in
            sums.withUnsafeMutableBufferPointer { out in
                for y in 0..<rows * block {
                    let row = y * width * 3
                    let outRow = (y / block) * columns * 3
                    for x in 0..<columns * block {
                        let o = outRow + (x / block) * 3
                        let i = row + x * 3
                        out[o] &+= UInt16(src[i])
                        out[o + 1] &+= UInt16(src[i + 1])
                        out[o + 2] &+= UInt16(src[i + 2])
                    }
                }
            }
        }
        return Level(block: block, columns: columns, rows: rows, sums: sums)
    }
}

/// One offset to try; `bound` is its best known lower bound of the sum of differences.
private struct Candidate {
    var dx: Int
    var dy: Int
    var bound: Int

    /// Smaller is a more plausible move: Chebyshev distance, then Manhattan, then a fixed order.
    var rank: (Int, Int, Int, Int) { (max(abs(dx), abs(dy)), abs(dx) + abs(dy), dy, dx) }

    /// The refinement order: lowest bound first, then rank.
    var order: (Int, Int, Int, Int, Int) { (bound, max(abs(dx), abs(dy)), abs(dx) + abs(dy), dy, dx) }
}

/// The screen and where the unshifted crop sits on it, for one `match` call. The pointer is
/// only used inside that call.
private struct Context {
    let matcher: CheckpointMatcher
    let screen: UnsafePointer<UInt8>
    let screenWidth: Int
    let screenHeight: Int
    let origin: Point

    /// Σ|crop − screen| with the crop at `origin + (dx, dy)` (which must fit on the screen);
    /// stops after the first row that takes the sum above `limit` and returns that partial sum.
    func difference(dx: Int, dy: Int, above limit: Int) -> Int {
        let rowLength = matcher.width * 3
        let screenRow = screenWidth * 3
        return matcher.pixels.withUnsafeBufferPointer { crop in
            guard let cropBase = crop.baseAddress else { return Int.max }
            var sum = 0
            var s = screen + ((origin.y + dy) * screenWidth + origin.x + dx) * 3
            var c = cropBase
            for _ in 0..<matcher.height {
                sum += absoluteDifference(c, s, rowLength)
                if sum > limit { return sum }
                s += screenRow
                c += rowLength
            }
            return sum
        }
    }
}

/// Σ|a[i] − b[i]| over `count` bytes; written so that LLVM vectorises it (no branches, a
/// 32-bit accumulator: a row of at most 2048 × 3 bytes cannot overflow it).
@inline(__always)
private func absoluteDifference(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Int {
    var sum: UInt32 = 0
    for i in 0..<count {
        let x = a[i]
        let y = b[i]
        sum &+= UInt32(max(x, y) &- min(x, y))
    }
    return Int(sum)
}

@inline(__always)
private func absoluteDifference(_ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, _ count: Int) -> Int {
    var sum: UInt32 = 0
    for i in 0..<count {
        let x = a[i]
        let y = b[i]
        sum &+= UInt32(max(x, y) &- min(x, y))
    }
    return Int(sum)
}

/// Block sums of the screen around the crop for one level, at every phase.
///
/// Plane `(py, px)` holds the sums of the `block × block` squares whose top-left corners are
/// at `origin − maximumShift + (px + block·I, py + block·J)`, so the crop's block row at any
/// offset is one contiguous run of a plane's row. Squares not wholly on the screen stay 0;
/// no valid offset reads them.
private struct BlockSums {
    let block: Int
    let planeWidth: Int
    let planeHeight: Int
    let shift: Int
    let sums: [UInt16]

    init(_ context: Context, level: CheckpointMatcher.Level) {
        let k = level.block
        let shift = context.matcher.maximumShift
        self.block = k
        self.shift = shift
        // Window (relative to `base`) that any valid offset's blocks can cover.
        let baseX = context.origin.x - shift
        let baseY = context.origin.y - shift
        let windowWidth = 2 * shift + k * level.columns
        let windowHeight = 2 * shift + k * level.rows
        planeWidth = (2 * shift) / k + level.columns + 1
        planeHeight = (2 * shift) / k + level.rows + 1
        // Clipped to the screen, in window coordinates.
        let x0 = max(0, -baseX)
        let x1 = min(windowWidth, context.screenWidth - baseX)
        let y0 = max(0, -baseY)
        let y1 = min(windowHeight, context.screenHeight - baseY)
        var planes = [UInt16](repeating: 0, count: k * k * planeWidth * planeHeight * 3)
        guard x1 - x0 >= k, y1 - y0 >= k else {
            sums = planes
            return
        }
        // Horizontal sums of k pixels, then vertical sums of k of those, written into the planes.
        var horizontal = [UInt16](repeating: 0, count: windowWidth * windowHeight * 3)
        let screenRow = context.screenWidth * 3
        let planeWidth = planeWidth
        let planeHeight = planeHeight
        horizontal.withUnsafeMutableBufferPointer { h in
            for y in y0..<y1 {
                let src = context.screen + (baseY + y) * screenRow
                let out = y * windowWidth * 3
                for x in x0...(x1 - k) {
                    var r: UInt16 = 0
                    var g: UInt16 = 0
                    var b: UInt16 = 0
                    for t in 0..<k {
                        let i = (baseX + x + t) * 3
                        r &+= UInt16(src[i])
                        g &+= UInt16(src[i + 1])
                        b &+= UInt16(src[i + 2])
                    }
                    h[out + x * 3] = r
                    h[out + x * 3 + 1] = g
                    h[out + x * 3 + 2] = b
                }
            }
            planes.withUnsafeMutableBufferPointer { p in
                for y in y0...(y1 - k) {
                    let planeRow = (y % k) * k
                    let j = y / k
                    for x in x0...(x1 - k) {
                        var r: UInt16 = 0
                        var g: UInt16 = 0
                        var b: UInt16 = 0
                        for t in 0..<k {
                            let i = ((y + t) * windowWidth + x) * 3
                            r &+= h[i]
                            g &+= h[i + 1]
                            b &+= h[i + 2]
                        }
                        let o = (((planeRow + x % k) * planeHeight + j) * planeWidth + x / k) * 3
                        p[o] = r
                        p[o + 1] = g
                        p[o + 2] = b
                    }
                }
            }
        }
        sums = planes
    }

    /// Σ over the crop's blocks of |crop sum − screen sum| at offset (dx, dy): a lower bound
    /// of the full difference there. Stops once it exceeds `limit`.
    func lowerBound(_ level: CheckpointMatcher.Level, dx: Int, dy: Int, above limit: Int) -> Int {
        let rx = dx + shift
        let ry = dy + shift
        let plane = (ry % block) * block + rx % block
        let rowLength = level.columns * 3
        return sums.withUnsafeBufferPointer { screen in
            level.sums.withUnsafeBufferPointer { crop in
                guard let screenBase = screen.baseAddress, let cropBase = crop.baseAddress else { return Int.max }
                var s = screenBase + ((plane * planeHeight + ry / block) * planeWidth + rx / block) * 3
                var c = cropBase
                var sum = 0
                for _ in 0..<level.rows {
                    sum += absoluteDifference(c, s, rowLength)
                    if sum > limit { return sum }
                    s += planeWidth * 3
                    c += rowLength
                }
                return sum
            }
        }
    }
}
