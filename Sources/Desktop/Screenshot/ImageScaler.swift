/// Resamples packed RGB images with a separable triangle (bilinear) filter whose support
/// grows with the reduction factor, so downscaling averages every source pixel it covers
/// (area averaging) instead of skipping pixels like nearest-neighbour would.
enum ImageScaler {
    /// Filter taps for one axis: output `i` reads `counts[i]` source pixels from `starts[i]`.
    struct Taps {
        var starts: [Int] = []
        var counts: [Int] = []
        var weights: [Float] = []
        var stride = 0

        init(from input: Int, to output: Int) {
            let scale = Double(input) / Double(output)
            let filterScale = max(scale, 1)
            let support = filterScale
            stride = Int(support.rounded(.up)) * 2 + 1
            weights = [Float](repeating: 0, count: output * stride)
            for i in 0..<output {
                let center = (Double(i) + 0.5) * scale
                let lo = max(0, Int((center - support + 0.5).rounded(.down)))
                let hi = min(input, Int((center + support + 0.5).rounded(.down)))
                var total = 0.0
                var local: [Double] = []
                for x in lo..<max(lo, hi) {
                    let distance = abs((Double(x) - center + 0.5) / filterScale)
                    let weight = max(0, 1 - distance)
                    local.append(weight)
                    total += weight
                }
                if total == 0 {
                    // Degenerate tap (exact pixel boundary): fall back to the nearest pixel.
                    local = [1]
                    total = 1
                }
                starts.append(lo)
                counts.append(min(local.count, stride))
                for (k, weight) in local.prefix(stride).enumerated() {
                    weights[i * stride + k] = Float(weight / total)
                }
            }
        }

        /// The taps as unsafe buffers, for the inner loops.
        func withBuffers<T>(
            _ body: (UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>, UnsafeBufferPointer<Float>, Int) -> T
        ) -> T {
            starts.withUnsafeBufferPointer { starts in
                counts.withUnsafeBufferPointer { counts in
                    weights.withUnsafeBufferPointer { weights in body(starts, counts, weights, stride) }
                }
            }
        }
    }

    /// The inner loops read the taps and pixels through unsafe buffers: with array
    /// subscripts (bounds checks, and retains of the taps' storage) scaling a 1920x1080
    /// screen to 1280x720 took about 55 ms, most of a model step's capture.
    static func resize(_ source: [UInt8], width: Int, height: Int, toWidth outWidth: Int, toHeight outHeight: Int)
        -> [UInt8]
    {
        if width == outWidth && height == outHeight { return source }
        let horizontal = Taps(from: width, to: outWidth)
        let vertical = Taps(from: height, to: outHeight)
        var middle = [Float](repeating: 0, count: outWidth * height * 3)
        source.withUnsafeBufferPointer { src in
            middle.withUnsafeMutableBufferPointer { mid in
                horizontal.withBuffers { starts, counts, weights, stride in
                    for y in 0..<height {
                        let row = y * width * 3
                        let outRow = y * outWidth * 3
                        for x in 0..<outWidth {
                            var r: Float = 0
                            var g: Float = 0
                            var b: Float = 0
                            let start = starts[x]
                            let base = x * stride
                            for k in 0..<counts[x] {
                                let w = weights[base + k]
                                let p = row + (start + k) * 3
                                r += w * Float(src[p])
                                g += w * Float(src[p + 1])
                                b += w * Float(src[p + 2])
                            }
                            mid[outRow + x * 3] = r
                            mid[outRow + x * 3 + 1] = g
                            mid[outRow + x * 3 + 2] = b
                        }
                    }
                }
            }
        }
        var output = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let rowLength = outWidth * 3
        var accumulator = [Float](repeating: 0, count: rowLength)
        middle.withUnsafeBufferPointer { mid in
            output.withUnsafeMutableBufferPointer { out in
                accumulator.withUnsafeMutableBufferPointer { sum in
                    vertical.withBuffers { starts, counts, weights, stride in
                        for y in 0..<outHeight {
                            for i in 0..<rowLength { sum[i] = 0 }
                            let start = starts[y]
                            let base = y * stride
                            for k in 0..<counts[y] {
                                let w = weights[base + k]
                                let row = (start + k) * rowLength
                                for i in 0..<rowLength { sum[i] += w * mid[row + i] }
                            }
                            let outRow = y * rowLength
                            for i in 0..<rowLength {
                                out[outRow + i] = UInt8(max(0, min(255, sum[i].rounded())))
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Copies `source` (w × h) into a black canvas at (dx, dy), clipping whatever falls outside.
    static func place(
        _ source: [UInt8], width: Int, height: Int, onCanvasWidth canvasWidth: Int,
        canvasHeight: Int, atX dx: Int, y dy: Int
    ) -> [UInt8] {
        var canvas = [UInt8](repeating: 0, count: canvasWidth * canvasHeight * 3)
        let x0 = max(0, dx)
        let x1 = min(canvasWidth, dx + width)
        guard x1 > x0 else { return canvas }
        for y in max(0, dy)..<min(canvasHeight, dy + height) {
            let sourceRow = (y - dy) * width * 3 + (x0 - dx) * 3
            let canvasRow = y * canvasWidth * 3 + x0 * 3
            canvas.replaceSubrange(
                canvasRow..<canvasRow + (x1 - x0) * 3,
                with: source[sourceRow..<sourceRow + (x1 - x0) * 3])
        }
        return canvas
    }

    /// The `cropWidth` × `cropHeight` part of RGB `source` (rows of `width` pixels) starting
    /// at (x, y); the caller has clipped it to the source.
    static func crop(_ source: [UInt8], width: Int, x: Int, y: Int, cropWidth: Int, cropHeight: Int) -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity(cropWidth * cropHeight * 3)
        for row in y..<y + cropHeight {
            let start = (row * width + x) * 3
            output.append(contentsOf: source[start..<start + cropWidth * 3])
        }
        return output
    }
}
