import CPNG

#if canImport(Glibc)
    import Glibc
#endif

/// libpng settings. The default (`fast`) is RGB with the fixed UP filter and zlib level 1.
/// On the benchmark scene (BENCHMARKS.md) UP encodes as fast as SUB (51 vs 52 ms for
/// 1920x1080) with files 10 % smaller (1.09× scrot's instead of 1.21×); PAETH is smaller
/// still but 25 % slower, and zlib levels above 1 cost far more time than they save bytes.
public struct PNGSettings: Sendable, Hashable {
    public enum Filter: String, Sendable, CaseIterable {
        case none, sub, up, average, paeth, adaptive

        var libpngValue: Int32 {
            switch self {
            case .none: Int32(CPNG_FILTER_NONE)
            case .sub: Int32(CPNG_FILTER_SUB)
            case .up: Int32(CPNG_FILTER_UP)
            case .average: Int32(CPNG_FILTER_AVG)
            case .paeth: Int32(CPNG_FILTER_PAETH)
            case .adaptive: Int32(CPNG_ALL_FILTERS)
            }
        }
    }

    public enum Strategy: String, Sendable, CaseIterable {
        case `default`, filtered, huffman, rle

        /// zlib's Z_* strategy constants.
        var zlibValue: Int32 {
            switch self {
            case .default: 0
            case .filtered: 1
            case .huffman: 2
            case .rle: 3
            }
        }
    }

    /// zlib level 0–9.
    public var level: Int
    public var filter: Filter
    public var strategy: Strategy
    /// Cores to compress on. 1 is libpng's own single-threaded encoder; more splits the image
    /// into bands (`ParallelPNGEncoder`) for the none, sub and up filters.
    public var threads: Int

    public init(level: Int = 1, filter: Filter = .up, strategy: Strategy = .default, threads: Int = 1) {
        self.level = level
        self.filter = filter
        self.strategy = strategy
        self.threads = threads
    }

    public static let fast = PNGSettings()
}

/// RGB to PNG: libpng on one core, or `ParallelPNGEncoder` when `PNGSettings.threads` > 1.
public enum PNGEncoder {
    /// Encodes packed RGB on `settings.threads` cores when the filter allows it.
    public static func encode(
        _ rgb: [UInt8], width: Int, height: Int,
        settings: PNGSettings = .fast
    ) throws -> [UInt8] {
        let bands = min(settings.threads, height / 16)
        if bands > 1, ParallelPNGEncoder.supports(settings.filter) {
            return try ParallelPNGEncoder.encodeRGB(rgb, width: width, height: height, settings: settings, bands: bands)
        }
        return try rgb.withUnsafeBufferPointer { try encodeRGB($0, width: width, height: height, settings: settings) }
    }

    /// Encodes packed RGB (3 bytes per pixel, rows of `width * 3` bytes) with libpng.
    public static func encodeRGB(
        _ rgb: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
        settings: PNGSettings = .fast
    ) throws -> [UInt8] {
        guard width > 0, height > 0 else { throw DesktopError.encodingFailed("empty image \(width)x\(height)") }
        guard rgb.count >= width * height * 3 else {
            throw DesktopError.encodingFailed("\(rgb.count) bytes of RGB cannot hold a \(width)x\(height) image")
        }
        return try write(width: width, height: height) { out, message, size in
            cpng_write_rgb(
                rgb.baseAddress, Int32(width), Int32(height), width * 3,
                Int32(max(0, min(9, settings.level))), settings.filter.libpngValue,
                settings.strategy.zlibValue, nil, 0, out, message, size)
        }
    }

    /// Runs one `cpng_write_rgb` call and turns its buffer or error message into Swift values.
    static func write(
        width: Int, height: Int,
        _ call: (UnsafeMutablePointer<cpng_buffer>, UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws -> [UInt8] {
        var out = cpng_buffer()
        defer { cpng_buffer_free(&out) }
        var message = [CChar](repeating: 0, count: 256)
        let status = message.withUnsafeMutableBufferPointer { call(&out, $0.baseAddress!, $0.count) }
        guard status == 0, let data = out.data else {
            throw DesktopError.encodingFailed(
                String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: data, count: out.length))
    }
}

/// A decoded image as packed RGB; used by tests and the benchmark to compare pixels.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Decodes any PNG (palette, grey, alpha are converted to RGB).
    public init(png: [UInt8]) throws {
        var data: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        let status = png.withUnsafeBufferPointer { cpng_decode_rgb($0.baseAddress, $0.count, &data, &width, &height) }
        guard status == 0, let data else { throw DesktopError.encodingFailed("not a readable PNG") }
        defer { free(data) }
        self.init(
            width: Int(width), height: Int(height),
            pixels: Array(UnsafeBufferPointer(start: data, count: Int(width) * Int(height) * 3)))
    }

    public func pixel(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}
