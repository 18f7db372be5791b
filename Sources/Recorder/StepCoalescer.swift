import CyberdeskAPI
import Desktop

/// Turns a stream of recorded input events into the steps a careful person would write
/// (issue 17): one `type` per stretch of text, `key` chords in xdotool syntax, double and
/// triple clicks, drags, scrolls with their amount, `wait`s for long pauses. Raw motion is
/// dropped. Pure and deterministic: time comes only from the events' server timestamps (and
/// `advance(to:)`), so it is tested with synthetic events.
///
/// Steps are handed out as soon as they are final: a click only when no further click can
/// join it (another event, or `doubleClickInterval` passed), a text stretch when something
/// else happens or the pause becomes a `wait`.
public struct StepCoalescer: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Presses of the same button this close in time (ms) and space (px) make one click
        /// with `clicks` 2 or 3.
        public var doubleClickInterval: Int64 = 500
        public var doubleClickDistance: Int = 5
        /// A press and release farther apart than this (px) are a drag.
        public var dragDistance: Int = 10
        /// A pause longer than this (ms) between inputs becomes a `wait` step…
        public var waitThreshold: Int64 = 2000
        /// …of at most this many ms: replay waits for checkpoints anyway, a long pause while
        /// recording is usually the person thinking.
        public var maximumWait: Int64 = 5000
        /// The chord that ends the recording; neither it nor its modifiers are recorded.
        public var stopChord: StopChord? = StopChord.default

        public init() {}
    }

    /// A chord compared with what a key press would be written as (`ctrl+alt+shift+s`).
    public struct StopChord: Sendable, Hashable {
        public var modifiers: KeyModifiers
        /// Normalized key name (`KeyVocabulary.normalize`, aliases resolved to keysym names).
        public var key: String

        public static let `default` = StopChord(modifiers: [.ctrl, .alt, .shift], key: "s")

        init(modifiers: KeyModifiers, key: String) {
            self.modifiers = modifiers
            self.key = key
        }

        /// Reads one chord in xdotool syntax: modifiers, then exactly one other key.
        public init(parsing text: String) throws(RecorderError) {
            guard let chords = try? KeyVocabulary.chords(text), chords.count == 1, let names = chords.first else {
                throw .badStopChord(text, reason: "write one chord, such as ctrl+alt+shift+s")
            }
            var modifiers: KeyModifiers = []
            var key: String?
            for name in names {
                switch Self.canonical(name) {
                case "Control_L", "Control_R": modifiers.insert(.ctrl)
                case "Alt_L", "Alt_R": modifiers.insert(.alt)
                case "Shift_L", "Shift_R": modifiers.insert(.shift)
                case "Super_L", "Super_R": modifiers.insert(.super)
                case let other:
                    guard key == nil else {
                        throw .badStopChord(text, reason: "it names two keys that are not modifiers")
                    }
                    guard KeyVocabulary.isKnown(name) else {
                        throw .badStopChord(text, reason: "unknown key '\(name)'")
                    }
                    key = other
                }
            }
            guard let key else { throw .badStopChord(text, reason: "it has no key besides modifiers") }
            guard !modifiers.isEmpty else {
                throw .badStopChord(text, reason: "without a modifier it would end the recording whenever typed")
            }
            self.init(modifiers: modifiers, key: key)
        }

        /// The keysym name an alias stands for, else the name lowercased.
        static func canonical(_ name: String) -> String {
            KeyVocabulary.aliases[KeyVocabulary.normalize(name)] ?? name.lowercased()
        }

        func matches(_ key: KeyInput) -> Bool {
            key.modifiers.intersection([.ctrl, .alt, .shift, .super]) == modifiers
                && Self.canonical(key.name) == self.key
        }
    }

    public var settings: Settings

    /// The stop chord was pressed: the recording is over.
    public private(set) var stopped = false

    private enum Pending: Sendable {
        case type(text: String, checkpoint: CheckpointRequest?)
        case keys([String])
        case click(point: Point, button: MouseButtonName, clicks: Int, lastPress: Int64, checkpoint: CheckpointRequest)
        case scroll(ScrollDirectionName, amount: Int, point: Point, checkpoint: CheckpointRequest)
    }

    /// A button held down: a click or a drag, decided at its release.
    private struct Press: Sendable {
        var button: Int
        var point: Point
        var time: Int64
        /// Whether it continues the pending click (a second or third click).
        var continuesClick: Bool
    }

    private var pending: Pending?
    private var press: Press?
    private var lastInputTime: Int64?
    /// The point of the last step when it was a click: a `type` right after it is checked there.
    private var lastClick: Point?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Feeds one event; returns the steps that became final.
    public mutating func feed(_ input: RecordedInput) -> [RecordedStep] {
        guard !stopped else { return [] }
        var out: [RecordedStep] = []
        switch input {
        case .motion:
            // Raw motion is never a step; a drag is decided by where the button is released.
            return []
        case .key(let key):
            if key.isPress { pause(before: key.time, into: &out) }
            if key.isPress { keyPressed(key, into: &out) }
        case .button(let button):
            if button.isPress { pause(before: button.time, into: &out) }
            if button.isPress { buttonPressed(button, into: &out) } else { buttonReleased(button, into: &out) }
        }
        lastInputTime = max(lastInputTime ?? input.time, input.time)
        return out
    }

    /// The clock moved on to server time `now` without input: hands out steps that nothing
    /// can join any more (a click past the double-click interval, anything past a pause that
    /// will be a `wait`).
    /// A step waits to be decided by time passing (`advance`): the caller's clock matters now.
    public var isWaiting: Bool { pending != nil && press == nil }

    public mutating func advance(to now: Int64) -> [RecordedStep] {
        guard let last = lastInputTime, press == nil else { return [] }
        var out: [RecordedStep] = []
        switch pending {
        case .click(_, _, _, let lastPress, _) where now - lastPress > settings.doubleClickInterval:
            flush(decidedAt: now, into: &out)
        case .some where now - last > settings.waitThreshold:
            flush(decidedAt: now, into: &out)
        default:
            break
        }
        return out
    }

    /// Ends the recording: pending steps are handed out; a button still held is dropped
    /// (released, not recorded), as are keys still held (they produced their text already).
    public mutating func finish(at now: Int64? = nil) -> [RecordedStep] {
        var out: [RecordedStep] = []
        press = nil
        flush(decidedAt: now ?? lastInputTime ?? 0, into: &out)
        return out
    }

    // MARK: - Pauses

    private mutating func pause(before time: Int64, into out: inout [RecordedStep]) {
        guard let last = lastInputTime, press == nil else { return }
        let gap = time - last
        guard gap > settings.waitThreshold else { return }
        flush(decidedAt: time, into: &out)
        let milliseconds = min(gap, settings.maximumWait)
        // Tenths of a second: a recorded pause is not precise beyond that.
        let seconds = Double((milliseconds + 50) / 100) / 10
        out.append(RecordedStep(.wait(seconds: seconds), decidedAt: time))
        lastClick = nil
    }

    // MARK: - Keys

    private mutating func keyPressed(_ key: KeyInput, into out: inout [RecordedStep]) {
        if key.isModifier || key.isComposing { return }
        let isChord = !key.modifiers.isDisjoint(with: KeyModifiers.chordMakers)
        if let stop = settings.stopChord, stop.matches(key) {
            stopped = true
            flush(decidedAt: key.time, into: &out)
            press = nil
            return
        }
        if !isChord, !key.text.isEmpty {
            if case .type(let text, let checkpoint) = pending {
                pending = .type(text: text + key.text, checkpoint: checkpoint)
            } else {
                flush(decidedAt: key.time, into: &out)
                let checkpoint = lastClick.map { CheckpointRequest(point: $0, time: key.time) }
                pending = .type(text: key.text, checkpoint: checkpoint)
            }
            return
        }
        guard !key.name.isEmpty else { return }
        // BackSpace right after typed text corrects that text, as the person meant it.
        if !isChord, !key.modifiers.contains(.shift), StopChord.canonical(key.name) == "BackSpace",
            case .type(var text, let checkpoint) = pending
        {
            text.removeLast()
            pending = text.isEmpty ? nil : .type(text: text, checkpoint: checkpoint)
            if text.isEmpty { lastClick = nil }
            return
        }
        let chord = (key.modifiers.chordNames + [key.name]).joined(separator: "+")
        if case .keys(let chords) = pending {
            pending = .keys(chords + [chord])
        } else {
            flush(decidedAt: key.time, into: &out)
            pending = .keys([chord])
        }
    }

    // MARK: - Buttons

    private mutating func buttonPressed(_ event: ButtonInput, into out: inout [RecordedStep]) {
        if let direction = Self.wheel(event.button) {
            guard press == nil else { return }
            if case .scroll(let current, let amount, let point, let checkpoint) = pending, current == direction {
                pending = .scroll(direction, amount: amount + 1, point: point, checkpoint: checkpoint)
            } else {
                flush(decidedAt: event.time, into: &out)
                pending = .scroll(
                    direction, amount: 1, point: event.point,
                    checkpoint: CheckpointRequest(point: event.point, time: event.time))
            }
            return
        }
        guard Self.button(event.button) != nil, press == nil else { return }
        var continues = false
        if case .click(let point, let button, let clicks, let lastPress, _) = pending,
            button == Self.button(event.button), clicks < 3,
            event.time - lastPress <= settings.doubleClickInterval,
            Self.distance(point, event.point) <= Double(settings.doubleClickDistance)
        {
            continues = true
        } else {
            flush(decidedAt: event.time, into: &out)
        }
        press = Press(button: event.button, point: event.point, time: event.time, continuesClick: continues)
    }

    private mutating func buttonReleased(_ event: ButtonInput, into out: inout [RecordedStep]) {
        guard let held = press, held.button == event.button, let button = Self.button(event.button) else { return }
        press = nil
        let checkpoint = CheckpointRequest(point: held.point, time: held.time)
        if Self.distance(held.point, event.point) > Double(settings.dragDistance) {
            flush(decidedAt: event.time, into: &out)
            out.append(
                RecordedStep(
                    .drag(from: held.point, to: event.point, button: button), checkpoint: checkpoint,
                    decidedAt: event.time))
            lastClick = nil
            return
        }
        if held.continuesClick, case .click(let point, let button, let clicks, _, let first) = pending {
            pending = .click(point: point, button: button, clicks: clicks + 1, lastPress: held.time, checkpoint: first)
            if clicks + 1 == 3 { flush(decidedAt: event.time, into: &out) }
        } else {
            pending = .click(point: held.point, button: button, clicks: 1, lastPress: held.time, checkpoint: checkpoint)
        }
    }

    // MARK: - Helpers

    private mutating func flush(decidedAt time: Int64, into out: inout [RecordedStep]) {
        guard let current = pending else { return }
        pending = nil
        lastClick = nil
        switch current {
        case .type(let text, let checkpoint):
            out.append(RecordedStep(.type(text), checkpoint: checkpoint, decidedAt: time))
        case .keys(let chords):
            out.append(RecordedStep(.key(chords.joined(separator: " ")), decidedAt: time))
        case .click(let point, let button, let clicks, _, let checkpoint):
            out.append(
                RecordedStep(.click(point, button: button, clicks: clicks), checkpoint: checkpoint, decidedAt: time))
            lastClick = point
        case .scroll(let direction, let amount, let point, let checkpoint):
            out.append(
                RecordedStep(.scroll(direction, amount: amount, at: point), checkpoint: checkpoint, decidedAt: time))
        }
    }

    static func button(_ number: Int) -> MouseButtonName? {
        switch number {
        case 1: .left
        case 2: .middle
        case 3: .right
        default: nil
        }
    }

    static func wheel(_ number: Int) -> ScrollDirectionName? {
        switch number {
        case 4: .up
        case 5: .down
        case 6: .left
        case 7: .right
        default: nil
        }
    }

    static func distance(_ a: Point, _ b: Point) -> Double {
        let dx = Double(a.x - b.x)
        let dy = Double(a.y - b.y)
        return (dx * dx + dy * dy).squareRoot()
    }
}
