// desktop-bench: in-process measurements of the Desktop driver against $DISPLAY.
//
//   desktop-bench [--runs N] [--png-runs N] [--type-runs N] [--clicks N] [--click-rounds N]
//                 [--only screenshot,type,click] [--text-file FILE] [--type-output FILE]
//                 [--click-region X,Y,W,H] [--checkpoint-runs N] [--checkpoint-at X,Y]
//                 [--lag-receiver ping|xterm] [--lag-runs N] [--ping-delay-ms N]
//
// `--only lagging` (not in the default set) types into a receiver that lags (issue 14) and
// checks every run: `--lag-receiver ping` starts a test client that answers _NET_WM_PING but
// handles each event `--ping-delay-ms` (20) late and types 100 distinct non-keymap characters
// (or `--text-file`); `--lag-receiver xterm` types `--text-file` into whatever xterm has the
// focus, reading back `--type-output` (scripts/bench-desktop runs it niced, with busy loops).
// After the last run it measures how long after the last key the keymap is the original again.
//
// `--only checkpoint` (not in the default set) measures one `checkCheckpoint` poll of a
// 128x64 crop centred at `--checkpoint-at` (default: the screen's centre; point it at text):
// unchanged, shifted by (20, 10), no match (a crop of other content, the full ±32 search),
// every channel of the crop 16/255 closer to grey (just above the threshold), and on a screen scaled
// from a 1280x720 recording. The no-match cases need a dense point (text) to be meaningful:
// sparse content 150 px lower may match within 0.05, and the benchmark then stops with a
// check failure.
//
// Prints one JSON object on stdout. `scripts/bench-desktop` runs it on a private Xvfb scene
// and writes the results into BENCHMARKS.md. Typing goes to whatever has the focus: point
// the pointer at an xterm running `cat > FILE` and pass `--type-output FILE` to check that
// every run arrived exactly.

import Desktop
import Foundation
import TestSupport

// MARK: - Arguments

struct Arguments {
    var runs = 30
    var pngRuns = 10
    var typeRuns = 30
    var clicks = 2000
    var clickRounds = 5
    var sections: Set<String> = ["screenshot", "type", "click"]
    var textFile: String?
    var typeOutput: String?
    var clickRegion: Rect?
    var checkpointRuns = 200
    var checkpointAt: Point?
    var lagReceiver = "ping"
    var lagRuns = 20
    var pingDelayMs = 20

    init(_ argv: [String]) throws {
        var rest = argv[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw BenchError.usage("\(flag) needs a value") }
            return next
        }
        func number(_ flag: String) throws -> Int {
            let text = try value(flag)
            guard let n = Int(text), n > 0 else {
                throw BenchError.usage("\(flag) must be a positive integer, got '\(text)'")
            }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--runs": runs = try number(flag)
            case "--png-runs": pngRuns = try number(flag)
            case "--type-runs": typeRuns = try number(flag)
            case "--clicks": clicks = try number(flag)
            case "--click-rounds": clickRounds = try number(flag)
            case "--only": sections = Set(try value(flag).split(separator: ",").map(String.init))
            case "--text-file": textFile = try value(flag)
            case "--type-output": typeOutput = try value(flag)
            case "--click-region":
                let parts = try value(flag).split(separator: ",").compactMap { Int($0) }
                guard parts.count == 4, parts[2] > 0, parts[3] > 0 else {
                    throw BenchError.usage("--click-region is X,Y,W,H")
                }
                clickRegion = Rect(x: parts[0], y: parts[1], width: parts[2], height: parts[3])
            case "--lag-receiver": lagReceiver = try value(flag)
            case "--lag-runs": lagRuns = try number(flag)
            case "--ping-delay-ms": pingDelayMs = try number(flag)
            case "--checkpoint-runs": checkpointRuns = try number(flag)
            case "--checkpoint-at":
                let parts = try value(flag).split(separator: ",").compactMap { Int($0) }
                guard parts.count == 2 else { throw BenchError.usage("--checkpoint-at is X,Y") }
                checkpointAt = Point(x: parts[0], y: parts[1])
            default: throw BenchError.usage("unknown argument '\(flag)'")
            }
        }
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    case check(String)

    var description: String {
        switch self {
        case .usage(let message): "usage: \(message)"
        case .check(let message): "check failed: \(message)"
        }
    }
}

// MARK: - Statistics

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

/// Nearest-rank percentile of already measured samples.
func percentile(_ samples: [Double], _ p: Double) -> Double {
    let sorted = samples.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func median(_ samples: [Double]) -> Double {
    let sorted = samples.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

struct Timing: Encodable {
    var runs: Int
    var medianMs: Double
    var p90Ms: Double
    var minMs: Double
    var maxMs: Double

    init(_ samples: [Double]) {
        runs = samples.count
        medianMs = median(samples)
        p90Ms = percentile(samples, 90)
        minMs = samples.min() ?? 0
        maxMs = samples.max() ?? 0
    }
}

/// Runs `body` `runs` times and returns the wall time of each run in milliseconds.
func measure(runs: Int, _ body: () async throws -> Void) async rethrows -> [Double] {
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<runs {
        samples.append(milliseconds(try await clock.measure { try await body() }))
    }
    return samples
}

// MARK: - Screenshots

struct PNGVariant: Encodable {
    var level: Int
    var filter: String
    var strategy: String
    var bytes: Int
    var timing: Timing
}

struct ScreenshotResult: Encodable {
    var width: Int
    var height: Int
    var sharedMemory: Bool
    var bytes: Int
    /// `PNGSettings()`, the settings of `captureAndEncode`, `encodeOnly` and the CLI.
    var defaultSettings: String
    /// capture + RGB conversion + PNG encode, default settings.
    var captureAndEncode: Timing
    /// PNG encode alone of the same pixels; capture ≈ total − encode.
    var encodeOnly: Timing
    var variants: [PNGVariant]
    /// A scaled screenshot as a model would ask for it (1280x720, area averaging).
    var scaled1280x720: Timing
}

func benchScreenshot(_ desktop: X11Desktop, _ args: Arguments) async throws -> ScreenshotResult {
    let size = try await desktop.dimensions()
    let first = try await desktop.screenshot(ScreenshotOptions())
    let decoded = try RGBImage(png: first.png)
    guard decoded.width == size.width, decoded.height == size.height else {
        throw BenchError.check(
            "screenshot is \(decoded.width)x\(decoded.height), screen is \(size.width)x\(size.height)")
    }
    // Interleaved, so "capture ≈ total − encode" compares runs under the same conditions.
    var bytes = 0
    var total: [Double] = []
    var encode: [Double] = []
    for _ in 0..<args.runs {
        total += try await measure(runs: 1) { bytes = try await desktop.screenshot(ScreenshotOptions()).png.count }
        encode += try await measure(runs: 1) {
            _ = try decoded.pixels.withUnsafeBufferPointer {
                try PNGEncoder.encodeRGB($0, width: decoded.width, height: decoded.height, settings: .fast)
            }
        }
    }
    let settings: [PNGSettings] = [
        PNGSettings(level: 1, filter: .sub), PNGSettings(level: 1, filter: .none), PNGSettings(level: 1, filter: .up),
        PNGSettings(level: 1, filter: .paeth), PNGSettings(level: 1, filter: .sub, strategy: .rle),
        PNGSettings(level: 1, filter: .up, strategy: .rle), PNGSettings(level: 1, filter: .paeth, strategy: .rle),
        PNGSettings(level: 1, filter: .adaptive), PNGSettings(level: 3, filter: .sub),
        PNGSettings(level: 6, filter: .sub), PNGSettings(level: 6, filter: .adaptive),
    ]
    var variants: [PNGVariant] = []
    for setting in settings {
        await desktop.setPNGSettings(setting)
        var variantBytes = 0
        let samples = try await measure(runs: args.pngRuns) {
            variantBytes = try await desktop.screenshot(ScreenshotOptions()).png.count
        }
        variants.append(
            PNGVariant(
                level: setting.level, filter: setting.filter.rawValue, strategy: setting.strategy.rawValue,
                bytes: variantBytes, timing: Timing(samples)))
    }
    await desktop.setPNGSettings(.fast)
    let scaled = try await measure(runs: args.pngRuns) {
        _ = try await desktop.screenshot(ScreenshotOptions(width: 1280, height: 720))
    }
    return ScreenshotResult(
        width: size.width, height: size.height, sharedMemory: await desktop.usesSharedMemory(), bytes: bytes,
        defaultSettings: "zlib \(PNGSettings.fast.level), \(PNGSettings.fast.filter.rawValue.uppercased()), "
            + "strategy \(PNGSettings.fast.strategy.rawValue)",
        captureAndEncode: Timing(total), encodeOnly: Timing(encode), variants: variants, scaled1280x720: Timing(scaled))
}

// MARK: - Typing

struct TypeResult: Encodable {
    var characters: Int
    /// `type` of the text alone; a Return follows each run, untimed, so the reader can check lines.
    var timing: Timing
    var charactersPerSecond: Double
    /// `type` of one character: the fixed cost of every typing action.
    var singleCharacter: Timing
    /// nil when no `--type-output` was given.
    var exact: Bool?
    var exactRuns: Int?
    var keymapUnchanged: Bool
}

/// Every printable ASCII character at least once, then a fixed pseudo-random mix.
func defaultText(count: Int) -> String {
    var scalars = (0x20...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    while scalars.count < count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        scalars.append(Character(Unicode.Scalar(UInt8(0x20 + (state >> 33) % 95))))
    }
    return String(scalars.prefix(count))
}

func keymapSnapshot() -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/xmodmap")
    process.arguments = ["-pke"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Waits until `path` holds at least `length` bytes or the deadline passes; returns its content.
func waitForFile(_ path: String, length: Int, timeout: Duration) async throws -> [UInt8] {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while true {
        let content = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data())
        if content.count >= length || ContinuousClock.now >= deadline { return content }
        try await Task.sleep(for: .milliseconds(20))
    }
}

func benchType(_ desktop: X11Desktop, _ args: Arguments) async throws -> TypeResult {
    let text = try args.textFile.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? defaultText(count: 1000)
    let before = keymapSnapshot()
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<args.typeRuns {
        samples.append(milliseconds(try await clock.measure { try await desktop.type(text, options: .fast) }))
        try await desktop.type("\n", options: .fast)
    }
    var single: [Double] = []
    for _ in 0..<10 {
        single.append(milliseconds(try await clock.measure { try await desktop.type(".", options: .fast) }))
        try await desktop.type("\n", options: .fast)
    }
    var result = TypeResult(
        characters: text.unicodeScalars.count, timing: Timing(samples),
        charactersPerSecond: Double(text.unicodeScalars.count) / (median(samples) / 1000),
        singleCharacter: Timing(single),
        keymapUnchanged: keymapSnapshot() == before)
    if let output = args.typeOutput {
        let line = Array((text + "\n").utf8)
        let expected =
            Array(repeating: line, count: args.typeRuns).flatMap { $0 }
            + Array(repeating: Array(".\n".utf8), count: 10).flatMap { $0 }
        let content = try await waitForFile(output, length: expected.count, timeout: .seconds(10))
        let lines = content.split(separator: 0x0A, omittingEmptySubsequences: false).prefix(args.typeRuns)
        result.exactRuns = lines.filter { Array($0) + [0x0A] == line }.count
        result.exact = content == expected
    }
    return result
}

// MARK: - Lagging receivers (issue 14)

struct LaggingResult: Encodable {
    var receiver: String
    var text: String
    var characters: Int
    var distinctMissing: Int
    var runs: Int
    var exactRuns: Int
    var exactByRun: String
    var firstMismatch: String?
    /// The `type` call alone (it includes the waits for the receiver before remapping).
    var typeCall: Timing
    /// From the start of `type` until the receiver had the whole line.
    var received: Timing
    /// Waits for the receiver to confirm before a borrowed keycode changed (all runs).
    var confirmations: Int
    /// Rounds of remapped borrowed keycodes (all runs).
    var rounds: Int
    var pingsAnswered: Int?
    /// From the end of the last `type` until `xmodmap -pke` equals the original (nil: not within 30 s).
    var keymapRestoredAfterMs: Double?
}

/// 100 distinct characters missing from a US keymap: Cyrillic А–я, Greek α–ω and Α–Λ.
let hundredDistinct = String(
    String.UnicodeScalarView(
        Array(0x410...0x44F).compactMap(Unicode.Scalar.init) + Array(0x3B1...0x3C9).compactMap(Unicode.Scalar.init)
            + Array(0x391...0x39B).compactMap(Unicode.Scalar.init)))

func benchLagging(_ desktop: X11Desktop, _ args: Arguments) async throws -> LaggingResult {
    let text = try args.textFile.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? hundredDistinct
    let line = text + "\n"
    let before = keymapSnapshot()
    var client: LaggingPingClient?
    if args.lagReceiver == "ping" {
        let size = try await desktop.dimensions()
        client = try await LaggingPingClient(
            display: ProcessInfo.processInfo.environment["DISPLAY"] ?? "", x: size.width - 500, y: size.height - 400,
            width: 400, height: 300, delay: .milliseconds(args.pingDelayMs))
        try await desktop.move(to: Point(x: size.width - 300, y: size.height - 250))
    } else if args.lagReceiver != "xterm" || args.typeOutput == nil {
        throw BenchError.usage("--lag-receiver is ping, or xterm with --type-output FILE")
    }
    let clock = ContinuousClock()
    var typeCall: [Double] = []
    var received: [Double] = []
    var byRun = ""
    var mismatch: String?
    var rounds = 0
    let confirmationsBefore = await desktop.borrowedKeycodeState().confirmations
    var lastKey = clock.now
    for run in 0..<args.lagRuns {
        let start = clock.now
        try await desktop.type(line, options: .fast)
        lastKey = clock.now
        rounds += await desktop.lastScratchRounds()
        typeCall.append(milliseconds(lastKey - start))
        var got = ""
        if let client {
            got = await client.waitForText(endingWith: "\n", timeout: .seconds(180))
            client.clear()
        } else if let output = args.typeOutput {
            let deadline = clock.now.advanced(by: .seconds(180))
            while true {
                let content = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                let lines = content.split(separator: "\n", omittingEmptySubsequences: false)
                if lines.count > run + 1 || clock.now >= deadline {
                    got = lines.count > run ? String(lines[run]) + "\n" : ""
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        received.append(milliseconds(clock.now - start))
        byRun += got == line ? "1" : "0"
        if got != line, mismatch == nil { mismatch = String(got.prefix(200)) }
    }
    var restoredAfter: Double?
    let deadline = lastKey.advanced(by: .seconds(30))
    while clock.now < deadline {
        if keymapSnapshot() == before {
            restoredAfter = milliseconds(clock.now - lastKey)
            break
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    let pings = client?.pingsAnswered
    await client?.stop()
    return LaggingResult(
        receiver: args.lagReceiver, text: text, characters: text.unicodeScalars.count,
        distinctMissing: Set(text.unicodeScalars.filter { $0.value > 0x7E }).count, runs: args.lagRuns,
        exactRuns: byRun.filter { $0 == "1" }.count, exactByRun: byRun, firstMismatch: mismatch,
        typeCall: Timing(typeCall), received: Timing(received),
        confirmations: await desktop.borrowedKeycodeState().confirmations - confirmationsBefore, rounds: rounds,
        pingsAnswered: pings, keymapRestoredAfterMs: restoredAfter)
}

// MARK: - Mouse

struct ClickResult: Encodable {
    var clicksPerRound: Int
    /// Clicks per second of each round, and their median.
    var clicksPerSecondRounds: [Double]
    var clicksPerSecond: Double
    var movesPerSecond: Double
    /// `pointerPosition()` calls per second: one bare round trip each, the ceiling for any
    /// action that waits for the server (clicks, moves).
    var roundTripsPerSecond: Double
    var pointerAtLastPoint: Bool
    var buttonsHeldAfter: [Int]
}

func benchClick(_ desktop: X11Desktop, _ args: Arguments) async throws -> ClickResult {
    let size = try await desktop.dimensions()
    let region = args.clickRegion ?? Rect(x: 0, y: 0, width: size.width, height: size.height)
    // A fixed walk over the region, so every click lands somewhere new.
    let points = (0..<args.clicks).map { i in
        Point(x: region.x + (i * 7919) % region.width, y: region.y + (i * 104_729) % region.height)
    }
    let clock = ContinuousClock()
    func rate(_ body: () async throws -> Void) async rethrows -> Double {
        Double(points.count) / (milliseconds(try await clock.measure(body)) / 1000)
    }
    var clickRates: [Double] = []
    for _ in 0..<args.clickRounds {
        clickRates.append(
            try await rate { for point in points { try await desktop.click(at: point, button: .left, clicks: 1) } })
    }
    let moves = try await rate { for point in points.reversed() { try await desktop.move(to: point) } }
    let position = try await desktop.pointerPosition()
    let roundTrips = try await rate { for _ in points { _ = try await desktop.pointerPosition() } }
    return ClickResult(
        clicksPerRound: points.count, clicksPerSecondRounds: clickRates, clicksPerSecond: median(clickRates),
        movesPerSecond: moves, roundTripsPerSecond: roundTrips,
        pointerAtLastPoint: position == points[0], buttonsHeldAfter: await desktop.pressedInputs().buttons)
}

// MARK: - Checkpoints

struct TailTiming: Encodable {
    var runs: Int
    var medianMs: Double
    var p95Ms: Double
    var minMs: Double
    var maxMs: Double

    init(_ samples: [Double]) {
        runs = samples.count
        medianMs = median(samples)
        p95Ms = percentile(samples, 95)
        minMs = samples.min() ?? 0
        maxMs = samples.max() ?? 0
    }
}

struct CheckpointCase: Encodable {
    var matched: Bool
    var dx: Int
    var dy: Int
    var difference: Double
    /// One whole `checkCheckpoint` call: capture of the window, resampling if any, match.
    var check: TailTiming
    /// `CheckpointMatcher.match` alone on an already captured window (nil when scaled).
    var matchOnly: TailTiming?
}

struct CheckpointResult: Encodable {
    var screen: Size
    var region: Rect
    var unchanged: CheckpointCase
    /// The region asked 20 px left and 10 px up of where the crop is: the same search as
    /// content that moved by (20, 10), found at that offset.
    var shifted: CheckpointCase
    /// A crop of other content (the same size, 150 px lower) checked at the region.
    var noMatch: CheckpointCase
    /// Every channel of the crop 16/255 closer to grey, checked at its own place: just above the
    /// threshold everywhere, so the bounds prune late; the slowest realistic no-match.
    var noMatchBrightened: CheckpointCase
    /// Recorded on 1280x720 (the crop cut from a scaled screenshot), checked on this screen.
    var scaledUnchanged: CheckpointCase
}

func benchCheckpoint(_ desktop: X11Desktop, _ args: Arguments) async throws -> CheckpointResult {
    let size = try await desktop.dimensions()
    let centre = args.checkpointAt ?? Point(x: size.width / 2, y: size.height / 2)
    let region = Rect(x: centre.x - 64, y: centre.y - 32, width: 128, height: 64)
    let other = Rect(
        x: region.x, y: region.y + 150 <= size.height - 64 ? region.y + 150 : region.y - 150, width: 128, height: 64)
    guard region.x >= 32, region.y >= 32, region.x + 160 <= size.width, region.y + 96 <= size.height, other.y >= 0
    else { throw BenchError.usage("--checkpoint-at must leave room for the crop and its ±32 px window") }
    func matcher(_ crop: Rect) async throws -> CheckpointMatcher {
        try CheckpointMatcher(png: try await desktop.screenshot(ScreenshotOptions(region: crop)).png)
    }
    let here = try await matcher(region)
    let elsewhere = try await matcher(other)

    func run(_ matcher: CheckpointMatcher, at region: Rect, recorded: Size?, expect: (Bool, Int, Int)) async throws
        -> CheckpointCase
    {
        let result = try await desktop.checkCheckpoint(matcher, region: region, recorded: recorded, threshold: 0.05)
        guard (result.matched, result.dx, result.dy) == expect else {
            throw BenchError.check("checkpoint at \(region): expected \(expect), got \(result)")
        }
        let check = try await measure(runs: args.checkpointRuns) {
            _ = try await desktop.checkCheckpoint(matcher, region: region, recorded: recorded, threshold: 0.05)
        }
        // The same comparison on a window captured once (same-size screens only: the
        // resampling is internal to the Desktop module).
        var matchOnly: TailTiming?
        let plan = try CheckpointCapturePlan(region: region, recorded: recorded, screen: size)
        if !plan.isScaled {
            let window = try await desktop.capturePixels(region: plan.capture)
            let clock = ContinuousClock()
            var samples: [Double] = []
            for _ in 0..<args.checkpointRuns {
                samples.append(
                    milliseconds(
                        clock.measure { _ = matcher.match(window, origin: plan.regionOrigin, threshold: 0.05) }))
            }
            matchOnly = TailTiming(samples)
        }
        return CheckpointCase(
            matched: result.matched, dx: result.dx, dy: result.dy, difference: result.difference,
            check: TailTiming(check), matchOnly: matchOnly)
    }

    let unchanged = try await run(here, at: region, recorded: nil, expect: (true, 0, 0))
    let shiftedRegion = Rect(x: region.x - 20, y: region.y - 10, width: 128, height: 64)
    let shifted = try await run(here, at: shiftedRegion, recorded: nil, expect: (true, 20, 10))
    let noMatch = try await run(elsewhere, at: region, recorded: nil, expect: (false, 0, 0))

    let brightened = try CheckpointMatcher(
        rgb: here.pixels.map { $0 < 128 ? $0 + 16 : $0 - 16 }, width: here.width, height: here.height)
    let noMatchBrightened = try await run(brightened, at: region, recorded: nil, expect: (false, 0, 0))

    let recorded = Size(width: 1280, height: 720)
    let small = try RGBImage(png: try await desktop.screenshot(ScreenshotOptions(width: 1280, height: 720)).png)
    let scaledRegion = Rect(
        x: region.x * 1280 / size.width, y: region.y * 720 / size.height, width: 128, height: 64)
    var crop: [UInt8] = []
    for y in scaledRegion.y..<scaledRegion.y + 64 {
        let start = (y * small.width + scaledRegion.x) * 3
        crop += small.pixels[start..<start + 128 * 3]
    }
    let scaledMatcher = try CheckpointMatcher(rgb: crop, width: 128, height: 64)
    let scaled = try await run(scaledMatcher, at: scaledRegion, recorded: recorded, expect: (true, 0, 0))
    return CheckpointResult(
        screen: size, region: region, unchanged: unchanged, shifted: shifted, noMatch: noMatch,
        noMatchBrightened: noMatchBrightened, scaledUnchanged: scaled)
}

// MARK: - Main

struct Report: Encodable {
    var display: String
    /// Why MIT-SHM screenshots failed, when they did; `screenshot` then measured XGetImage.
    var sharedMemoryError: String?
    var screenshot: ScreenshotResult?
    var type: TypeResult?
    var click: ClickResult?
    var checkpoint: CheckpointResult?
    var lagging: LaggingResult?
}

do {
    let args = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let desktop = try await X11Desktop()
    var report = Report(display: ProcessInfo.processInfo.environment["DISPLAY"] ?? "")
    do {
        if args.sections.contains("screenshot") {
            do {
                report.screenshot = try await benchScreenshot(desktop, args)
            } catch let error as DesktopError {
                // Still measure something useful: the XGetImage path a remote display would use.
                report.sharedMemoryError = "\(error)"
                let fallback = try await X11Desktop(.init(useSharedMemory: false))
                report.screenshot = try await benchScreenshot(fallback, args)
                await fallback.close()
            }
        }
        if args.sections.contains("type") { report.type = try await benchType(desktop, args) }
        if args.sections.contains("click") { report.click = try await benchClick(desktop, args) }
        if args.sections.contains("checkpoint") { report.checkpoint = try await benchCheckpoint(desktop, args) }
        if args.sections.contains("lagging") { report.lagging = try await benchLagging(desktop, args) }
    } catch {
        await desktop.close()
        throw error
    }
    await desktop.close()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    FileHandle.standardOutput.write(try encoder.encode(report) + Data("\n".utf8))
} catch {
    FileHandle.standardError.write(Data("desktop-bench: \(error)\n".utf8))
    exit(1)
}
