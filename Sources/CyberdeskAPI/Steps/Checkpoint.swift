#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the screen looked like where a step acted, just before it acted (STEPS.md,
/// Checkpoints): `{region: [x, y, w, h], png: base64, threshold, timeout}` in the
/// trajectory's coordinate space. Replay waits until that region of the screen matches the
/// crop (within `threshold`, allowing a small shift) before the step acts.
public struct Checkpoint: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    /// The crop as PNG bytes.
    public var png: [UInt8]
    /// Mean absolute difference per channel, 0...1, that still counts as a match.
    public var threshold: Double
    /// Seconds to wait for a match before the step fails its check.
    public var timeout: Double

    public static let defaultThreshold = 0.05
    public static let defaultTimeout = 10.0
    /// Larger crops cost more to compare on every replay and say no more about the target.
    public static let maxSide = 512
    public static let maxPNGBytes = 512 << 10
    public static let maxTimeout = 300.0

    public init(x: Int, y: Int, width: Int, height: Int, png: [UInt8], threshold: Double, timeout: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.png = png
        self.threshold = threshold
        self.timeout = timeout
    }

    /// The checkpoint of a step object (its `checkpoint` key), or nil when it has none.
    /// `dimensions` are the trajectory's, when known: the region must lie inside them.
    /// `decode` reads a PNG's width and height, or nil when it cannot be decoded (the server
    /// passes libpng's decoder; without one, the PNG's own header is trusted).
    public static func parse(
        step: JSONValue, dimensions: DisplaySize?, decode: (([UInt8]) -> (width: Int, height: Int)?)? = nil
    ) throws(CheckpointProblem) -> Checkpoint? {
        guard case .object(let object) = step, let value = object["checkpoint"], value != .null else { return nil }
        guard case .object(let checkpoint) = value else { throw .notAnObject(got: value.typeName) }
        let numbers = checkpoint["region"]?.arrayValue?.compactMap(\.intValue) ?? []
        guard numbers.count == 4, checkpoint["region"]?.arrayValue?.count == 4 else {
            throw .badRegion("region must be [x, y, width, height] in whole pixels")
        }
        let (x, y, width, height) = (Int(numbers[0]), Int(numbers[1]), Int(numbers[2]), Int(numbers[3]))
        guard width >= 1, height >= 1, width <= maxSide, height <= maxSide, x >= 0, y >= 0 else {
            throw .badRegion(
                "region \(width)x\(height) at \(x),\(y): needs x, y >= 0 and a size from 1x1 to \(maxSide)x\(maxSide)")
        }
        if let dimensions, x + width > dimensions.width || y + height > dimensions.height {
            throw .badRegion(
                "region \(width)x\(height) at \(x),\(y) is not inside the trajectory's dimensions "
                    + "\(dimensions.width)x\(dimensions.height)")
        }
        guard case .string(let text)? = checkpoint["png"], let data = Data(base64Encoded: text) else {
            throw .badPNG("png must be the crop as base64")
        }
        let png = Array(data)
        guard png.count <= maxPNGBytes else { throw .badPNG("png is \(png.count) bytes, more than \(maxPNGBytes)") }
        guard let size = decode.map({ $0(png) }) ?? header(png) else {
            throw .badPNG("png is not a decodable PNG image")
        }
        guard size.width == width, size.height == height else {
            throw .badPNG("png is \(size.width)x\(size.height), the region \(width)x\(height)")
        }
        let threshold = try number(checkpoint["threshold"], "threshold", default: defaultThreshold, in: 0...1)
        let timeout = try number(checkpoint["timeout"], "timeout", default: defaultTimeout, in: 0...maxTimeout)
        return Checkpoint(x: x, y: y, width: width, height: height, png: png, threshold: threshold, timeout: timeout)
    }

    private static func number(
        _ value: JSONValue?, _ name: String, default fallback: Double, in range: ClosedRange<Double>
    )
        throws(CheckpointProblem) -> Double
    {
        guard let value, value != .null else { return fallback }
        guard let number = value.doubleValue, range.contains(number) else {
            throw .badValue(name: name, requirement: "a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// Width and height from the PNG signature and IHDR chunk.
    static func header(_ png: [UInt8]) -> (width: Int, height: Int)? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard png.count >= 33, Array(png[0..<8]) == signature, Array(png[12..<16]) == Array("IHDR".utf8) else {
            return nil
        }
        func be(_ at: Int) -> Int { png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}

/// Why a step's `checkpoint` was refused.
public enum CheckpointProblem: Error, Sendable, Hashable, CustomStringConvertible {
    case notAnObject(got: String)
    case badRegion(String)
    case badPNG(String)
    case badValue(name: String, requirement: String)

    public var description: String {
        switch self {
        case .notAnObject(let got): "checkpoint must be an object {region, png, threshold, timeout}, got \(got)"
        case .badRegion(let detail): "checkpoint: \(detail)"
        case .badPNG(let detail): "checkpoint: \(detail)"
        case .badValue(let name, let requirement): "checkpoint: \(name) must be \(requirement)"
        }
    }
}

extension Trajectory {
    /// Every step's checkpoint (nil where a step has none), or the first problem, naming the step.
    public static func checkpoints(
        _ steps: [JSONValue], dimensions: DisplaySize?, decode: (([UInt8]) -> (width: Int, height: Int)?)? = nil
    ) throws(TrajectoryValidationError) -> [Checkpoint?] {
        var result: [Checkpoint?] = []
        for (index, step) in steps.enumerated() {
            do {
                result.append(try Checkpoint.parse(step: step, dimensions: dimensions, decode: decode))
            } catch {
                throw .invalidCheckpoint(
                    index: index, funcName: step.objectValue?["func_name"]?.stringValue, problem: error)
            }
        }
        return result
    }
}

extension Checkpoint {
    /// The size of the crop recorded with a step that acts at a point, by a model run and by
    /// `cyberdesk-agent record` alike: enough to recognize a button or a field and its label.
    public static let recordedWidth = 128
    public static let recordedHeight = 64

    /// The recorded crop's region for a step acting at `x, y` on a `screenWidth` ×
    /// `screenHeight` screen: centred there, clipped to the screen (smaller at its edges).
    /// Nil when the point is off the screen.
    public static func recordedRegion(x: Int, y: Int, screenWidth: Int, screenHeight: Int)
        -> (x: Int, y: Int, width: Int, height: Int)?
    {
        guard x >= 0, y >= 0, x < screenWidth, y < screenHeight else { return nil }
        let x0 = max(0, x - recordedWidth / 2)
        let y0 = max(0, y - recordedHeight / 2)
        let x1 = min(screenWidth, x - recordedWidth / 2 + recordedWidth)
        let y1 = min(screenHeight, y - recordedHeight / 2 + recordedHeight)
        guard x1 > x0, y1 > y0 else { return nil }
        return (x0, y0, x1 - x0, y1 - y0)
    }

    /// The `checkpoint` object of a step (STEPS.md): `{region, png (base64), threshold, timeout}`.
    public var json: JSONValue {
        .object([
            "region": .array([.int(Int64(x)), .int(Int64(y)), .int(Int64(width)), .int(Int64(height))]),
            "png": .string(Data(png).base64EncodedString()),
            "threshold": .double(threshold),
            "timeout": .double(timeout),
        ])
    }
}
