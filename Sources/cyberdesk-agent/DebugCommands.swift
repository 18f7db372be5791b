import ArgumentParser
import Desktop

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

extension MouseButton: ExpressibleByArgument {}
extension ScrollDirection: ExpressibleByArgument {}
extension ScaleMode: ExpressibleByArgument {}
extension PNGSettings.Filter: ExpressibleByArgument {}
extension PNGSettings.Strategy: ExpressibleByArgument {}

struct Screenshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Capture the screen as a PNG.")

    @OptionGroup var display: DisplayOptions
    @Option(name: .shortAndLong, help: "Output file; '-' writes the PNG to stdout (default: screenshot-<time>.png).")
    var output: String?
    @Option(help: "Output width in pixels (alone: keep the aspect ratio).") var width: Int?
    @Option(help: "Output height in pixels (alone: keep the aspect ratio).") var height: Int?
    @Option(help: "How a width and height together fit: exact, aspect_fit, aspect_fill.") var mode: ScaleMode = .exact
    @Option(help: "RandR monitor index to capture instead of the whole screen.") var monitor: Int?
    @Option(help: "zlib level 0-9.") var level: Int = PNGSettings.fast.level
    @Option(help: "PNG filter: none, sub, up, average, paeth, adaptive.") var filter: PNGSettings.Filter = PNGSettings
        .fast.filter
    @Option(help: "zlib strategy: default, filtered, huffman, rle.") var strategy: PNGSettings.Strategy = PNGSettings
        .fast.strategy
    @Option(help: "Cores to compress on (default: all online CPUs, at most 8).")
    var threads: Int = max(1, min(8, sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    struct Result: Encodable {
        var path: String
        var width: Int
        var height: Int
        var bytes: Int
        var scaleX: Double
        var scaleY: Double
        var offsetX: Double
        var offsetY: Double
        var source: Rect
    }

    func validate() throws {
        guard (0...9).contains(level) else { throw ValidationError("--level must be between 0 and 9") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() async throws {
        let options = ScreenshotOptions(width: width, height: height, mode: mode, monitor: monitor)
        let settings = PNGSettings(level: level, filter: filter, strategy: strategy, threads: threads)
        let shot = try await withDesktop(display) { desktop in
            await desktop.setPNGSettings(settings)
            return try await desktop.screenshot(options)
        }
        let path = output ?? "screenshot-\(Int(Date().timeIntervalSince1970 * 1000)).png"
        if path == "-" {
            writeAll(STDOUT_FILENO, shot.png)
            return
        }
        do {
            try writeFileAtomically(shot.png, to: path)
        } catch {
            throw fail(DesktopError.invalidArgument("cannot write \(path): \(error)"))
        }
        try printJSON(
            Result(
                path: path, width: shot.width, height: shot.height, bytes: shot.png.count,
                scaleX: shot.scaleX, scaleY: shot.scaleY, offsetX: shot.offsetX, offsetY: shot.offsetY,
                source: shot.source))
    }
}

struct Dimensions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the screen size (the size of a native screenshot).")
    @OptionGroup var display: DisplayOptions

    func run() async throws {
        try printJSON(try await withDesktop(display) { try await $0.dimensions() })
    }
}

struct Position: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the pointer position.")
    @OptionGroup var display: DisplayOptions

    func run() async throws {
        try printJSON(try await withDesktop(display) { try await $0.pointerPosition() })
    }
}

struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move the pointer to X Y.")
    @OptionGroup var display: DisplayOptions
    @Argument var x: Int
    @Argument var y: Int

    func run() async throws {
        let point = Point(x: x, y: y)
        try await withDesktop(display) { try await $0.move(to: point) }
        try printJSON(point)
    }
}

struct Click: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Click at X Y (or where the pointer is).",
        discussion: "--down presses and holds the button, --up releases it.")
    @OptionGroup var display: DisplayOptions
    @Argument var x: Int?
    @Argument var y: Int?
    @Option var button: MouseButton = .left
    @Option(help: "1, 2 or 3.") var clicks: Int = 1
    @Flag(help: "Press and hold only.") var down = false
    @Flag(help: "Release only.") var up = false

    func validate() throws {
        guard (x == nil) == (y == nil) else { throw ValidationError("give both X and Y, or neither") }
        guard !(down && up) else { throw ValidationError("--down and --up cannot be combined") }
        guard (1...3).contains(clicks) else { throw ValidationError("--clicks must be 1, 2 or 3") }
    }

    func run() async throws {
        let point = x.map { Point(x: $0, y: y!) }
        let (button, clicks, down, up) = (button, clicks, down, up)
        try await withDesktop(display) { desktop in
            if down || up {
                try await desktop.mouseButton(button, down: down, at: point)
            } else {
                try await desktop.click(at: point, button: button, clicks: clicks)
            }
        }
        try printJSON(Done())
    }
}

struct Drag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Press at X1 Y1, move to X2 Y2, release.")
    @OptionGroup var display: DisplayOptions
    @Argument var x1: Int
    @Argument var y1: Int
    @Argument var x2: Int
    @Argument var y2: Int
    @Option(help: "Seconds to spread the movement over (0: instant).") var duration: Double = 0
    @Option var button: MouseButton = .left

    func run() async throws {
        let (start, end, duration, button) = (Point(x: x1, y: y1), Point(x: x2, y: y2), duration, button)
        try await withDesktop(display) { try await $0.drag(from: start, to: end, duration: duration, button: button) }
        try printJSON(Done())
    }
}

struct Scroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scroll DIRECTION (up, down, left, right) by AMOUNT wheel clicks.")
    @OptionGroup var display: DisplayOptions
    @Argument var direction: ScrollDirection
    @Argument var amount: Int
    @Option var x: Int?
    @Option var y: Int?

    func validate() throws {
        guard (x == nil) == (y == nil) else { throw ValidationError("give both --x and --y, or neither") }
        guard amount >= 0 else { throw ValidationError("AMOUNT must be 0 or more") }
    }

    func run() async throws {
        let point = x.map { Point(x: $0, y: y!) }
        let (direction, amount) = (direction, amount)
        try await withDesktop(display) { try await $0.scroll(direction, amount: amount, at: point) }
        try printJSON(Done())
    }
}

struct TypeText: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "type",
        abstract: "Type TEXT exactly (any Unicode), whatever the keymap and Caps Lock.",
        discussion: "Use --stdin for text with secrets or long text: it never appears in the process list.")
    @OptionGroup var display: DisplayOptions
    @Argument var text: String?
    @Flag(help: "Read the text from standard input (typed as is, including newlines).") var stdin = false
    @Option(help: "Milliseconds to pause after each key (for applications that drop fast input).")
    var delay: Int = 0

    struct Result: Encodable {
        var characters: Int
    }

    func validate() throws {
        guard (text != nil) != stdin else { throw ValidationError("give TEXT or --stdin (one of them)") }
        guard delay >= 0 else { throw ValidationError("--delay must be 0 or more") }
    }

    func run() async throws {
        let input: String
        if stdin {
            input = String(decoding: readAll(STDIN_FILENO), as: UTF8.self)
        } else {
            input = text ?? ""
        }
        let options = TypingOptions(perKeyDelay: .milliseconds(delay))
        try await withDesktop(display) { try await $0.type(input, options: options) }
        try printJSON(Result(characters: input.unicodeScalars.count))
    }
}

struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Press key chords in xdotool syntax: 'ctrl+a ctrl+c', 'tab tab enter'.",
        discussion: "--down presses and holds the keys (until `key --up` or `release`); --up releases them.")
    @OptionGroup var display: DisplayOptions
    @Argument(parsing: .remaining) var chords: [String] = []
    @Flag(help: "Press and hold only.") var down = false
    @Flag(help: "Release only.") var up = false

    func validate() throws {
        guard !chords.isEmpty else { throw ValidationError("give at least one key chord, e.g. 'ctrl+s'") }
        guard !(down && up) else { throw ValidationError("--down and --up cannot be combined") }
    }

    func run() async throws {
        let text = chords.joined(separator: " ")
        let action: KeyAction = down ? .down : (up ? .up : .tap)
        try await withDesktop(display) { try await $0.key(text, action: action) }
        try printJSON(Done())
    }
}

struct Release: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Release every key and mouse button left pressed through XTest (the daemon does this at start).")
    @OptionGroup var display: DisplayOptions

    struct Result: Encodable {
        var releasedKeycodes: [Int]
        var releasedButtons: [Int]
    }

    func run() async throws {
        let result = try await withDesktop(display, keepHeldInput: false) { desktop in
            let before = await desktop.pressedInputs()
            try await desktop.releaseAllInputs()
            let after = await desktop.pressedInputs()
            return Result(
                releasedKeycodes: before.keys.filter { !after.keys.contains($0) },
                releasedButtons: before.buttons.filter { !after.buttons.contains($0) })
        }
        try printJSON(result)
    }
}
