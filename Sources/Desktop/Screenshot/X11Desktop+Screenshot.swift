import CX11

extension X11Desktop {
    /// Captures the root window (or one RandR monitor), converts it to RGB and encodes a PNG,
    /// scaled when the options ask for a size.
    public func screenshot(_ options: ScreenshotOptions = ScreenshotOptions()) throws -> Screenshot {
        let captured = try captureRegion(monitor: options.monitor)
        try captureRGB(region: captured)
        var region = captured
        var pixels = rgbBuffer
        if let wanted = options.region {
            region = try Self.clip(wanted, to: captured)
            pixels = ImageScaler.crop(
                pixels, width: captured.width, x: region.x - captured.x, y: region.y - captured.y,
                cropWidth: region.width, cropHeight: region.height)
        }
        let target = try ScaledGeometry(source: Size(width: region.width, height: region.height), options: options)
        if target.scaledWidth != region.width || target.scaledHeight != region.height {
            pixels = ImageScaler.resize(
                pixels, width: region.width, height: region.height,
                toWidth: target.scaledWidth, toHeight: target.scaledHeight)
        }
        if target.offsetX != 0 || target.offsetY != 0 || target.scaledWidth != target.width
            || target.scaledHeight != target.height
        {
            pixels = ImageScaler.place(
                pixels, width: target.scaledWidth, height: target.scaledHeight,
                onCanvasWidth: target.width, canvasHeight: target.height,
                atX: target.offsetX, y: target.offsetY)
        }
        let png = try PNGEncoder.encode(pixels, width: target.width, height: target.height, settings: pngSettings)
        return Screenshot(
            png: png, width: target.width, height: target.height, source: region,
            scaleX: target.scaleX, scaleY: target.scaleY,
            offsetX: Double(target.offsetX), offsetY: Double(target.offsetY))
    }

    /// Captures `region` alone (MIT-SHM into `regionCapture`, or XGetImage) and converts only
    /// its pixels: a ±32 px checkpoint window is ~25 k pixels, against 2 M for a whole
    /// 1920x1080 capture and conversion.
    public func capturePixels(region: Rect) throws -> RGBImage {
        let screen = try captureRegion(monitor: nil)
        guard region.width > 0, region.height > 0, region.x >= screen.x, region.y >= screen.y,
            region.x + region.width <= screen.x + screen.width, region.y + region.height <= screen.y + screen.height
        else {
            throw DesktopError.invalidArgument(
                "the region \(region.width)x\(region.height) at \(region.x),\(region.y) is not inside the "
                    + "\(screen.width)x\(screen.height) screen")
        }
        var pixels: [UInt8] = []
        if configuration.useSharedMemory {
            if regionCapture?.region.width != region.width || regionCapture?.region.height != region.height {
                regionCapture?.destroy(display: display)
                regionCapture = ScreenCapture(display: display, region: region)
            }
            if var segment = regionCapture {
                try segment.capture(display: display, root: root, at: Point(x: region.x, y: region.y)) {
                    try PixelConverter.convert($0, into: &pixels)
                }
                return RGBImage(width: region.width, height: region.height, pixels: pixels)
            }
        }
        try ScreenCapture.captureWithoutSharedMemory(display: display, root: root, region: region) {
            try PixelConverter.convert($0, into: &pixels)
        }
        return RGBImage(width: region.width, height: region.height, pixels: pixels)
    }

    /// Captures `region` into `rgbBuffer` (reused across calls), through SHM when possible.
    func captureRGB(region: Rect) throws {
        if configuration.useSharedMemory {
            if capture?.region != region {
                capture?.destroy(display: display)
                capture = ScreenCapture(display: display, region: region)
            }
            if capture != nil {
                try capture!.capture(display: display, root: root) { try PixelConverter.convert($0, into: &rgbBuffer) }
                return
            }
        }
        try ScreenCapture.captureWithoutSharedMemory(display: display, root: root, region: region) {
            try PixelConverter.convert($0, into: &rgbBuffer)
        }
    }

    /// Whether captures go through MIT-SHM (false on remote displays or when disabled).
    public func usesSharedMemory() -> Bool {
        if capture == nil, configuration.useSharedMemory, let region = try? captureRegion(monitor: nil) {
            capture = ScreenCapture(display: display, region: region)
        }
        return capture?.usesSharedMemory ?? false
    }

    /// Changes how later screenshots are encoded (level, filter, strategy, cores).
    public func setPNGSettings(_ settings: PNGSettings) {
        pngSettings = settings
    }

    /// Monitors reported by RandR, primary first flagged.
    public func monitors() -> [Monitor] {
        var count: Int32 = 0
        guard let list = XRRGetMonitors(display, root, 1, &count) else { return [] }
        defer { XRRFreeMonitors(list) }
        return (0..<Int(count)).map { i in
            let m = list[i]
            return Monitor(
                index: i, primary: m.primary != 0,
                frame: Rect(x: Int(m.x), y: Int(m.y), width: Int(m.width), height: Int(m.height)))
        }
    }

    /// `wanted` (in screen coordinates) clipped to `frame`; an empty result is an error.
    static func clip(_ wanted: Rect, to frame: Rect) throws -> Rect {
        let x0 = max(wanted.x, frame.x)
        let y0 = max(wanted.y, frame.y)
        let x1 = min(wanted.x + wanted.width, frame.x + frame.width)
        let y1 = min(wanted.y + wanted.height, frame.y + frame.height)
        guard x1 > x0, y1 > y0 else {
            throw DesktopError.invalidArgument(
                "the region \(wanted.width)x\(wanted.height) at \(wanted.x),\(wanted.y) is outside the screen")
        }
        return Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    func captureRegion(monitor: Int?) throws -> Rect {
        let size = try dimensions()
        guard let monitor else { return Rect(x: 0, y: 0, width: size.width, height: size.height) }
        let all = monitors()
        guard all.indices.contains(monitor) else {
            throw DesktopError.invalidArgument(
                "monitor \(monitor) does not exist; this display has \(all.count) monitor(s) (0..<\(all.count))")
        }
        return all[monitor].frame
    }
}

/// A RandR monitor: its index for `ScreenshotOptions.monitor` and where it sits on the root.
public struct Monitor: Sendable, Codable, Hashable {
    public var index: Int
    public var primary: Bool
    public var frame: Rect
}

/// Output geometry of a scaled screenshot: the size of the scaled capture, where it sits
/// in the output image, and the scale factors that map image pixels back to the screen.
struct ScaledGeometry {
    var width: Int
    var height: Int
    var scaledWidth: Int
    var scaledHeight: Int
    var offsetX = 0
    var offsetY = 0
    var scaleX: Double
    var scaleY: Double

    init(source: Size, options: ScreenshotOptions) throws {
        let sw = Double(source.width)
        let sh = Double(source.height)
        for (name, value) in [("width", options.width), ("height", options.height)] {
            if let value, value < 1 || value > 16384 {
                throw DesktopError.invalidArgument("screenshot \(name) must be between 1 and 16384, got \(value)")
            }
        }
        switch (options.width, options.height) {
        case (nil, nil):
            width = source.width
            height = source.height
        case (let w?, nil):
            width = w
            height = max(1, Int((Double(w) * sh / sw).rounded()))
        case (nil, let h?):
            height = h
            width = max(1, Int((Double(h) * sw / sh).rounded()))
        case (let w?, let h?):
            width = w
            height = h
        }
        let bothGiven = options.width != nil && options.height != nil
        switch bothGiven ? options.mode : .exact {
        case .exact:
            scaledWidth = width
            scaledHeight = height
            scaleX = Double(width) / sw
            scaleY = Double(height) / sh
        case .aspectFit, .aspectFill:
            let fit = options.mode == .aspectFit
            let scale =
                fit ? min(Double(width) / sw, Double(height) / sh) : max(Double(width) / sw, Double(height) / sh)
            scaledWidth = max(1, Int((sw * scale).rounded()))
            scaledHeight = max(1, Int((sh * scale).rounded()))
            if fit {
                scaledWidth = min(scaledWidth, width)
                scaledHeight = min(scaledHeight, height)
            } else {
                scaledWidth = max(scaledWidth, width)
                scaledHeight = max(scaledHeight, height)
            }
            offsetX = (width - scaledWidth) / 2
            offsetY = (height - scaledHeight) / 2
            scaleX = scale
            scaleY = scale
        }
    }
}
