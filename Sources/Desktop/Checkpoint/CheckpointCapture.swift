/// Which part of the screen a checkpoint check captures, and how it maps back to the
/// trajectory's pixels.
///
/// A checkpoint's region and its ±`maximumShift` search window are in trajectory pixels (the
/// trajectory's `dimensions`). On a screen of another size they are mapped with the scale the
/// executor's `CoordinateScaler` applies to coordinates (`screen / recorded` on each axis):
/// trajectory pixel `x` covers screen pixels `[x · scale, (x + 1) · scale)`, whose centre is
/// where `floor((x + 0.5) · scale)` sends a point. The window is clipped to the recorded
/// screen first, so the capture (clipped to the real screen) resamples to exactly the
/// window's size in trajectory pixels, and the matcher's offsets are trajectory pixels: the
/// executor adds them to the step's coordinates before scaling them.
public struct CheckpointCapturePlan: Sendable, Hashable {
    /// Screen pixels to capture, inside the screen.
    public var capture: Rect
    /// The size, in trajectory pixels, to resample the capture to; equal to the capture's
    /// size when the screen is the recorded size.
    public var resampledSize: Size
    /// Where the unshifted region's top-left corner sits in the resampled capture.
    public var regionOrigin: Point

    /// Whether the capture must be resampled before matching.
    public var isScaled: Bool { capture.width != resampledSize.width || capture.height != resampledSize.height }

    /// `recorded` nil (or not a positive size) means the trajectory's coordinates are this
    /// screen's pixels, as for `CoordinateScaler`.
    public init(region: Rect, recorded: Size?, screen: Size, maximumShift: Int = CheckpointMatcher.defaultMaximumShift)
        throws(CheckpointError)
    {
        guard screen.width > 0, screen.height > 0 else { throw .invalidSize(screen, what: "screen") }
        guard maximumShift >= 0 else { throw .invalidMaximumShift(maximumShift) }
        var trajectory = screen
        if let recorded, recorded.width > 0, recorded.height > 0 { trajectory = recorded }
        guard region.width > 0, region.height > 0, region.x >= 0, region.y >= 0,
            region.x <= trajectory.width - region.width, region.y <= trajectory.height - region.height
        else { throw .regionOutsideRecordedScreen(region: region, recorded: trajectory) }
        // The search window in trajectory pixels, clipped to the recorded screen, and widened
        // to edges that fall on whole screen pixels (see `alignment`).
        let ax = Self.alignment(trajectory.width, screen.width)
        let ay = Self.alignment(trajectory.height, screen.height)
        let tx0 = max(0, region.x - maximumShift) / ax * ax
        let ty0 = max(0, region.y - maximumShift) / ay * ay
        let tx1 = min(trajectory.width, (region.x + region.width + maximumShift + ax - 1) / ax * ax)
        let ty1 = min(trajectory.height, (region.y + region.height + maximumShift + ay - 1) / ay * ay)
        resampledSize = Size(width: tx1 - tx0, height: ty1 - ty0)
        regionOrigin = Point(x: region.x - tx0, y: region.y - ty0)
        if trajectory == screen {
            capture = Rect(x: tx0, y: ty0, width: tx1 - tx0, height: ty1 - ty0)
        } else {
            let (x0, x1) = Self.map(tx0, tx1, Double(screen.width) / Double(trajectory.width), limit: screen.width)
            let (y0, y1) = Self.map(ty0, ty1, Double(screen.height) / Double(trajectory.height), limit: screen.height)
            capture = Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
        }
    }

    /// The step, in trajectory pixels, at which pixel edges map to whole screen pixels: `q` for
    /// a scale `p/q` in lowest terms (2 for 1280 → 1920). Starting the capture there keeps the
    /// resampled window in phase with a whole-screen scaling; a start rounded to the nearest
    /// pixel instead is up to half a screen pixel off, which alone costs ~0.035 of difference on
    /// text. Scales with a large `q` (odd sizes) fall back to rounding.
    static func alignment(_ recorded: Int, _ screen: Int) -> Int {
        var a = recorded
        var b = screen
        while b != 0 { (a, b) = (b, a % b) }
        let step = recorded / max(a, 1)
        return step <= 16 ? step : 1
    }

    /// Pixel edges `[a, b)` scaled and rounded to the nearest screen pixel edge, inside
    /// `0..<limit` and at least one pixel wide.
    private static func map(_ a: Int, _ b: Int, _ scale: Double, limit: Int) -> (Int, Int) {
        let lo = min(limit - 1, max(0, Int((Double(a) * scale).rounded())))
        let hi = min(limit, max(lo + 1, Int((Double(b) * scale).rounded())))
        return (lo, hi)
    }
}

extension Desktop {
    /// Whether the screen shows `matcher`'s crop at `region` (trajectory pixels of a trajectory
    /// recorded at `recorded`, nil for this screen's size), allowing a shift of up to
    /// `matcher.maximumShift` trajectory pixels.
    ///
    /// Captures only the region and its search window (`capturePixels`, no PNG encoding),
    /// resamples it to trajectory pixels when the screen has another size (area averaging,
    /// as scaled screenshots), and matches. One call is one poll: the caller repeats it until
    /// it matches or the checkpoint's timeout passes.
    ///
    /// Nonisolated so the comparison runs on the caller's executor, not the desktop's thread
    /// (the X11 actor keeps serving input and the clipboard meanwhile).
    public nonisolated func checkCheckpoint(
        _ matcher: CheckpointMatcher, region: Rect, recorded: Size?, threshold: Double
    ) async throws -> CheckpointMatch {
        guard region.width == matcher.width, region.height == matcher.height else {
            throw CheckpointError.cropDoesNotMatchRegion(
                crop: Size(width: matcher.width, height: matcher.height), region: region)
        }
        guard threshold >= 0, threshold <= 1 else { throw CheckpointError.invalidThreshold(threshold) }
        let screen = try await dimensions()
        let plan = try CheckpointCapturePlan(
            region: region, recorded: recorded, screen: screen, maximumShift: matcher.maximumShift)
        var image = try await capturePixels(region: plan.capture)
        if plan.isScaled {
            image = RGBImage(
                width: plan.resampledSize.width, height: plan.resampledSize.height,
                pixels: ImageScaler.resize(
                    image.pixels, width: image.width, height: image.height, toWidth: plan.resampledSize.width,
                    toHeight: plan.resampledSize.height))
        }
        return matcher.match(image, origin: plan.regionOrigin, threshold: threshold)
    }
}
