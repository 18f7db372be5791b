import CPNG
import CZlib
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Encodes a PNG on several cores. zlib has no multi-threaded mode, so the image is cut into
/// horizontal bands; each band is filtered and deflated on its own core as a raw stream that
/// ends on a byte boundary (`Z_SYNC_FLUSH`, the last one `Z_FINISH`), the streams are joined
/// behind one zlib header and their Adler-32 sums combined, as pigz does. libpng frames the
/// result (signature, IHDR, IDAT, IEND and their CRCs). The bands do not share a dictionary,
/// so files grow by a few hundred bytes; the pixels are the same as the single-threaded path.
enum ParallelPNGEncoder {
    /// Filters this encoder implements itself; the others go through libpng's serial path.
    static func supports(_ filter: PNGSettings.Filter) -> Bool {
        filter == .none || filter == .sub || filter == .up
    }

    static func encodeRGB(
        _ rgb: [UInt8], width: Int, height: Int,
        settings: PNGSettings, bands count: Int
    ) throws -> [UInt8] {
        guard rgb.count >= width * height * 3 else {
            throw DesktopError.encodingFailed("\(rgb.count) bytes of RGB cannot hold a \(width)x\(height) image")
        }
        let rowBytes = width * 3
        let stride = rowBytes + 1
        let bands = (0..<count).map { i in (height * i / count)..<(height * (i + 1) / count) }
        let filterType: UInt8 = settings.filter == .sub ? 1 : (settings.filter == .up ? 2 : 0)
        let level = Int32(max(0, min(9, settings.level)))
        let strategy = settings.strategy.zlibValue
        // Each band filters into its own buffer and hands back its stream and Adler-32 sum.
        let results = Mutex([(stream: [UInt8], sum: UInt)?](repeating: nil, count: count))
        DispatchQueue.concurrentPerform(iterations: count) { band in
            let rows = bands[band]
            var filtered = [UInt8](unsafeUninitializedCapacity: rows.count * stride) { _, initialized in
                initialized = rows.count * stride
            }
            rgb.withUnsafeBufferPointer { source in
                filtered.withUnsafeMutableBufferPointer { out in
                    for (i, y) in rows.enumerated() {
                        Self.filterRow(
                            y, type: filterType, source: source, rowBytes: rowBytes,
                            into: out.baseAddress! + i * stride)
                    }
                }
            }
            let result = filtered.withUnsafeBufferPointer { bytes in
                (
                    stream: Self.deflateBand(bytes, level: level, strategy: strategy, last: band == count - 1),
                    sum: adler32(1, bytes.baseAddress, UInt32(bytes.count))
                )
            }
            results.withLock { $0[band] = result }
        }
        let finished = results.withLock { $0 }
        let streams = finished.map { $0?.stream ?? [] }
        let sums = finished.map { $0?.sum ?? 0 }
        guard !streams.contains(where: \.isEmpty) else {
            throw DesktopError.encodingFailed("zlib failed to compress a band")
        }
        var adler = sums[0]
        for band in 1..<count {
            adler = adler32_combine(adler, sums[band], off_t(bands[band].count * stride))
        }
        var zlibStream: [UInt8] = [0x78, 0x01]  // deflate, 32 KiB window, no dictionary
        zlibStream.reserveCapacity(streams.reduce(6) { $0 + $1.count })
        for stream in streams { zlibStream.append(contentsOf: stream) }
        zlibStream.append(contentsOf: [
            UInt8(adler >> 24 & 0xFF), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF),
        ])
        return try zlibStream.withUnsafeBufferPointer { stream in
            try PNGEncoder.write(width: width, height: height) { out, message, size in
                cpng_write_rgb(
                    nil, Int32(width), Int32(height), 0, 0, 0, 0, stream.baseAddress, stream.count, out, message, size)
            }
        }
    }

    /// Writes the PNG filter byte and the filtered row `y` (PNG spec, section 9).
    private static func filterRow(
        _ y: Int, type: UInt8, source: UnsafeBufferPointer<UInt8>, rowBytes: Int,
        into out: UnsafeMutablePointer<UInt8>
    ) {
        out[0] = type
        let row = source.baseAddress! + y * rowBytes
        let dest = out + 1
        switch type {
        case 1:
            for i in 0..<min(3, rowBytes) { dest[i] = row[i] }
            if rowBytes > 3 {
                for i in 3..<rowBytes { dest[i] = row[i] &- row[i - 3] }
            }
        case 2 where y > 0:
            let above = row - rowBytes
            for i in 0..<rowBytes { dest[i] = row[i] &- above[i] }
        default:
            dest.update(from: row, count: rowBytes)
        }
    }

    /// Deflates one band as raw deflate data; empty on a zlib error.
    private static func deflateBand(_ input: UnsafeBufferPointer<UInt8>, level: Int32, strategy: Int32, last: Bool)
        -> [UInt8]
    {
        var stream = z_stream()
        guard czlib_deflate_init_raw(&stream, level, strategy) == Z_OK else { return [] }
        defer { deflateEnd(&stream) }
        // deflateBound assumes Z_FINISH; a sync flush adds an empty stored block (5 bytes).
        let capacity = Int(deflateBound(&stream, UInt(input.count))) + 64
        var ok = false
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            stream.next_out = buffer.baseAddress
            stream.avail_out = UInt32(capacity)
            let status = deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH)
            ok = last ? status == Z_STREAM_END : (status == Z_OK && stream.avail_in == 0)
            initialized = capacity - Int(stream.avail_out)
        }
        return ok ? output : []
    }
}
