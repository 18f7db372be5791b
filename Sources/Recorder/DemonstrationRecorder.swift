import CyberdeskAPI
import Desktop

/// Records a person doing a task once on an X display and turns it into a trajectory
/// (issue 17): `InputCapture` (XRecord) → `StepCoalescer` → templated steps with checkpoints.
///
/// ## Checkpoints show the screen before the press
/// A checkpoint is the region around the point a step acts at, as it was *before* the step's
/// press. The press is already on the screen by the time XRecord reports it (and on Xvfb up
/// to one tick later), and an application may have redrawn in between, so the crop cannot be
/// taken then. Instead the recorder keeps a ring of recent crops around the pointer
/// (`captureSize`, 256×128, through `Desktop.capturePixels`: no PNG, a few hundred µs), taken
/// whenever the pointer has moved since the last one and at least every `refreshInterval`
/// while it rests (typing changes the screen under a still pointer). At each button press,
/// and at the first key after a click, it pins the newest crops that were certainly read
/// before the press (server time, with `beforeMargin` for the clock estimate), and the
/// step's checkpoint is cut from the first of them that holds its 128×64 region. With none
/// (a pointer that jumped and clicked within a tick, as a script does) the region is read
/// when the step is written: best effort, it may show the press's effect.
///
/// Server timestamps are mapped to the local monotonic clock with the smallest difference
/// seen between an event's arrival and its timestamp (Xorg and Xvfb stamp events with
/// `CLOCK_MONOTONIC` milliseconds, so on a local display it converges to the delivery delay).
///
/// ## Idle cost
/// Per tick (20 ms): one round trip on the record control connection, on the capture thread.
/// While nothing happens and no step waits for a time-out, a batch reaches this actor only
/// every `refreshInterval`, with at most one small capture. See BENCHMARKS.md.
public actor DemonstrationRecorder {
    public struct Settings: Sendable {
        public var coalescer = StepCoalescer.Settings()
        public var tick: Duration = .milliseconds(20)
        /// Size of the crops kept around the pointer (each step's region is cut from one).
        public var captureSize = Size(width: 256, height: 128)
        /// A resting pointer's surroundings are read again this often (ms).
        public var refreshInterval: Int64 = 100
        /// How much earlier than a press (ms, server time) a crop must have been read.
        public var beforeMargin: Int64 = 25
        public var ringCapacity = 32
        public var checkpointThreshold = Checkpoint.defaultThreshold
        public var checkpointTimeout = Checkpoint.defaultTimeout

        public init() {}
    }

    /// What a recording produced: the trajectory and, for the benchmark, how long each step
    /// took to be written after the input that decided it.
    public struct Result: Sendable {
        public var dimensions: Size
        public var steps: [JSONValue]
        /// Milliseconds from the deciding input (server time, mapped) to the step being handed out.
        public var latencies: [Int64]
        /// Whether the stop chord ended it (otherwise `stop()`).
        public var stoppedByChord: Bool

        /// `{"dimensions": {"width", "height"}, "trajectory_data": [...]}`.
        public var json: JSONValue {
            .object([
                "dimensions": .object([
                    "width": .int(Int64(dimensions.width)), "height": .int(Int64(dimensions.height)),
                ]),
                "trajectory_data": .array(steps),
            ])
        }
    }

    private struct Crop: Sendable {
        var rect: Rect
        var image: RGBImage
        /// The server time at which it was read, as estimated (`beforeMargin` covers the error).
        var serverTime: Int64
    }

    private let desktop: any Desktop
    private let displayName: String
    private let settings: Settings
    private let templater: TypedTextTemplater
    private var capture: InputCapture?
    /// The X server records input: what happens on the display from now on is in the recording.
    public private(set) var isCapturing = false
    private var stopRequested = false

    private var coalescer: StepCoalescer
    private var screen = Size(width: 0, height: 0)
    /// Upper bound of (local − server) milliseconds.
    private var clockOffset: Int64?
    private var pointer: Point?
    private var ring: [Crop] = []
    private var lastCapturePoint: Point?
    private var lastCaptureLocal: Int64 = .min
    /// Crops pinned at a press time, newest first.
    private var pins: [Int64: [Crop]] = [:]
    private var afterClickRelease = false
    private var steps: [JSONValue] = []
    private var latencies: [Int64] = []

    public init(
        desktop: any Desktop, displayName: String, settings: Settings = Settings(), templater: TypedTextTemplater
    ) {
        self.desktop = desktop
        self.displayName = displayName
        self.settings = settings
        self.templater = templater
        self.coalescer = StepCoalescer(settings: settings.coalescer)
    }

    /// Ends the recording (SIGINT, SIGTERM): input still queued in the server is read first.
    public func stop() {
        stopRequested = true
        capture?.stop()
    }

    /// Records until `stop()` or the stop chord. `onStart` is called once the server records;
    /// `onStep` gets each step's index and its one-line summary (secrets as placeholders) as
    /// soon as it is final.
    public func record(
        onStart: @escaping @Sendable () -> Void = {}, onStep: @escaping @Sendable (Int, String) -> Void
    ) async throws -> Result {
        screen = try await desktop.dimensions()
        if let pointer = try? await desktop.pointerPosition() { self.pointer = pointer }
        let (stream, continuation) = AsyncStream<InputCapture.Batch?>.makeStream()
        let capture = try InputCapture(
            displayName: displayName, tick: settings.tick, idleInterval: .milliseconds(settings.refreshInterval)
        ) { batch in
            continuation.yield(batch)
            if batch == nil { continuation.finish() }
        }
        self.capture = capture
        if stopRequested { capture.stop() }
        for await batch in stream {
            guard let batch else { break }
            if batch.started, !isCapturing {
                isCapturing = true
                onStart()
            }
            await handle(batch, onStep: onStep)
            // Every tick while a step waits for a time-out, else a batch every refresh.
            capture.deliverEveryTick(coalescer.isWaiting)
        }
        let now = clockOffset.map { monotonicMilliseconds() - $0 }
        for step in coalescer.finish(at: now) { await emit(step, onStep: onStep) }
        self.capture = nil
        isCapturing = false
        return Result(dimensions: screen, steps: steps, latencies: latencies, stoppedByChord: coalescer.stopped)
    }

    private func handle(_ batch: InputCapture.Batch, onStep: @Sendable (Int, String) -> Void) async {
        if let offset = batch.clockOffset { clockOffset = min(clockOffset ?? offset, offset) }
        for input in batch.inputs {
            // Whether the input keeps "right after a click" true for the next key press.
            var keepsAfterClick = true
            switch input {
            case .motion(_, let point):
                pointer = point
            case .button(let button):
                pointer = button.point
                if button.isPress {
                    pin(at: button.time)
                    keepsAfterClick = false
                } else if (1...3).contains(button.button) {
                    afterClickRelease = true
                }
            case .key(let key):
                if key.isPress, !key.isModifier {
                    if afterClickRelease { pin(at: key.time) }
                    keepsAfterClick = false
                }
            }
            if !keepsAfterClick { afterClickRelease = false }
            let wasStopped = coalescer.stopped
            for step in coalescer.feed(input) { await emit(step, onStep: onStep) }
            if !wasStopped, coalescer.stopped { capture?.stop() }
        }
        if let offset = clockOffset {
            for step in coalescer.advance(to: batch.localTime - offset) { await emit(step, onStep: onStep) }
        }
        await sample(localTime: batch.localTime)
        pins = pins.filter { time, _ in batch.localTime - (clockOffset ?? 0) - time < 120_000 }
    }

    /// Reads the pointer's surroundings into the ring when it moved or the last read is old.
    private func sample(localTime: Int64) async {
        guard let pointer, !coalescer.stopped else { return }
        let offset = clockOffset ?? 0
        guard pointer != lastCapturePoint || localTime - lastCaptureLocal >= settings.refreshInterval else { return }
        let size = settings.captureSize
        let x0 = max(0, min(pointer.x - size.width / 2, screen.width - size.width))
        let y0 = max(0, min(pointer.y - size.height / 2, screen.height - size.height))
        let rect = Rect(x: x0, y: y0, width: min(size.width, screen.width), height: min(size.height, screen.height))
        guard let image = try? await desktop.capturePixels(region: rect) else { return }
        let read = monotonicMilliseconds()
        lastCapturePoint = pointer
        lastCaptureLocal = read
        ring.append(Crop(rect: rect, image: image, serverTime: read - offset))
        if ring.count > settings.ringCapacity { ring.removeFirst(ring.count - settings.ringCapacity) }
    }

    private func pin(at time: Int64) {
        let eligible = ring.reversed().filter { $0.serverTime + settings.beforeMargin <= time }
        pins[time] = Array(eligible.prefix(8))
    }

    private func emit(_ step: RecordedStep, onStep: @Sendable (Int, String) -> Void) async {
        var step = step
        if case .type(let text) = step.action { step.action = .type(templater.template(text)) }
        var checkpoint: JSONValue?
        if let request = step.checkpoint { checkpoint = await self.checkpoint(for: request)?.json }
        steps.append(step.json(checkpoint: checkpoint))
        if let offset = clockOffset { latencies.append(monotonicMilliseconds() - offset - step.decidedAt) }
        onStep(steps.count - 1, step.summary)
    }

    private func checkpoint(for request: CheckpointRequest) async -> Checkpoint? {
        guard
            let region = Checkpoint.recordedRegion(
                x: request.point.x, y: request.point.y, screenWidth: screen.width, screenHeight: screen.height)
        else { return nil }
        let rect = Rect(x: region.x, y: region.y, width: region.width, height: region.height)
        var image: RGBImage?
        for crop in pins[request.time] ?? [] where Self.contains(crop.rect, rect) {
            image = Self.cut(crop.image, from: crop.rect, to: rect)
            break
        }
        if image == nil { image = try? await desktop.capturePixels(region: rect) }
        guard let image, let png = try? PNGEncoder.encode(image.pixels, width: image.width, height: image.height)
        else { return nil }
        return Checkpoint(
            x: rect.x, y: rect.y, width: rect.width, height: rect.height, png: png,
            threshold: settings.checkpointThreshold, timeout: settings.checkpointTimeout)
    }

    static func contains(_ outer: Rect, _ inner: Rect) -> Bool {
        inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width
            && inner.y + inner.height <= outer.y + outer.height
    }

    static func cut(_ image: RGBImage, from source: Rect, to rect: Rect) -> RGBImage {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(rect.width * rect.height * 3)
        for row in 0..<rect.height {
            let start = ((rect.y - source.y + row) * image.width + (rect.x - source.x)) * 3
            pixels.append(contentsOf: image.pixels[start..<start + rect.width * 3])
        }
        return RGBImage(width: rect.width, height: rect.height, pixels: pixels)
    }
}
