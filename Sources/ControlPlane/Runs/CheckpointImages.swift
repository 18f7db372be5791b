import CPNG
import CyberdeskAPI

#if canImport(Glibc)
    import Glibc
#endif

/// Decodes checkpoint crops with libpng when a trajectory is written, so a crop the agent
/// could not read is refused then (400 naming the step), not discovered on a machine. The
/// agent decodes with the `Desktop` module; the server does not link X11, so it calls the
/// same `CPNG` shim directly.
enum CheckpointImages {
    /// Width and height of a PNG that decodes, else nil.
    static func decodedSize(_ png: [UInt8]) -> (width: Int, height: Int)? {
        var data: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0
        var height: Int32 = 0
        let status = png.withUnsafeBufferPointer { cpng_decode_rgb($0.baseAddress, $0.count, &data, &width, &height) }
        defer { free(data) }
        guard status == 0 else { return nil }
        return (Int(width), Int(height))
    }
}
