/// How a scaled screenshot fits the requested size.
public enum ScaleMode: String, Sendable, CaseIterable, Codable {
    /// Stretch to exactly width × height.
    case exact
    /// Keep the aspect ratio; letterbox (black bars) to fill the rest.
    case aspectFit = "aspect_fit"
    /// Keep the aspect ratio; crop the overflow, centred.
    case aspectFill = "aspect_fill"
}

/// What to capture and at which size.
public struct ScreenshotOptions: Sendable {
    /// Output size; nil for the native size. One of the two alone keeps the aspect ratio.
    public var width: Int?
    public var height: Int?
    public var mode: ScaleMode
    /// RandR monitor index to capture instead of the whole root window.
    public var monitor: Int?
    /// A part of the screen (or of the monitor) to capture alone, clipped to it: the crops of
    /// checkpoints (`STEPS.md`). Cropped in memory from a whole capture, so the shared-memory
    /// segment sized for the screen is reused.
    public var region: Rect?

    public init(
        width: Int? = nil, height: Int? = nil, mode: ScaleMode = .exact, monitor: Int? = nil, region: Rect? = nil
    ) {
        self.width = width
        self.height = height
        self.mode = mode
        self.monitor = monitor
        self.region = region
    }
}

/// A PNG screenshot and the mapping from its pixels back to screen pixels:
/// `screen = (image - offset) / scale + origin`.
public struct Screenshot: Sendable {
    public var png: [UInt8]
    public var width: Int
    public var height: Int
    /// The captured region on the screen (the root, or one monitor).
    public var source: Rect
    public var scaleX: Double
    public var scaleY: Double
    /// Where the scaled capture starts in the image (letterbox bars are positive, crop negative).
    public var offsetX: Double
    public var offsetY: Double

    /// Maps a point in this image to a screen point.
    public func screenPoint(forImagePoint point: Point) -> Point {
        Point(
            x: source.x + Int(((Double(point.x) - offsetX) / scaleX).rounded(.down)),
            y: source.y + Int(((Double(point.y) - offsetY) / scaleY).rounded(.down)))
    }
}

/// A rectangle in root-window pixels.
public struct Rect: Sendable, Hashable, Codable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}
