import CPNG

#if canImport(Glibc)
    import Glibc
#endif

/// Why a PNG could not be decoded.
public enum PNGDecodingError: Error, CustomStringConvertible, Equatable {
    /// The bytes do not start with the PNG signature.
    case notPNG(byteCount: Int)
    /// The header is readable but the image is larger than the decoder accepts.
    case tooLarge(width: Int, height: Int, maximumPixels: Int)
    /// libpng could not read the image (truncated data, bad CRC, …); its message.
    case unreadable(String)

    public var description: String {
        switch self {
        case .notPNG(let count):
            return "the image is not a PNG (\(count) bytes without the PNG signature); checkpoints carry base64 PNGs"
        case .tooLarge(let width, let height, let maximum):
            return "the PNG is \(width)x\(height), more than the \(maximum) pixels accepted"
        case .unreadable(let message):
            return "the PNG cannot be decoded: \(message.isEmpty ? "libpng gave no reason" : message)"
        }
    }
}

/// PNG to packed 8-bit RGB through libpng's simplified API (palette, grey, 16-bit and alpha
/// are converted; alpha is composited on black).
public enum PNGDecoder {
    /// 8K × 8K: far more than any screen or checkpoint crop, small enough that a hostile header
    /// cannot make the agent allocate gigabytes.
    public static let defaultMaximumPixels = 8192 * 8192

    private static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Decodes `bytes`; the size is checked from the header before any pixel memory is allocated.
    public static func decodeRGB(_ bytes: [UInt8], maximumPixels: Int = defaultMaximumPixels) throws(PNGDecodingError)
        -> (width: Int, height: Int, rgb: [UInt8])
    {
        guard bytes.count >= signature.count, bytes.prefix(signature.count).elementsEqual(signature) else {
            throw .notPNG(byteCount: bytes.count)
        }
        var data: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                cpng_decode_rgb_limited(
                    input.baseAddress, input.count, max(0, maximumPixels), &data, &width, &height,
                    text.baseAddress, text.count)
            }
        }
        if status == -2 {
            throw .tooLarge(width: Int(width), height: Int(height), maximumPixels: maximumPixels)
        }
        guard status == 0, let data else {
            throw .unreadable(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { free(data) }
        let count = Int(width) * Int(height) * 3
        return (Int(width), Int(height), Array(UnsafeBufferPointer(start: data, count: count)))
    }
}
