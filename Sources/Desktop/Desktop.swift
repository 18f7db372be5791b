/// Everything a run can do to a screen. `X11Desktop` is the one real implementation; the
/// agent's run executor and the debug CLI talk only to this protocol.
public protocol Desktop: Actor {
    /// Size of the captured screen in pixels; equals the size of a native screenshot.
    func dimensions() async throws -> Size
    func screenshot(_ options: ScreenshotOptions) async throws -> Screenshot
    /// The pixels of `region` (root-window pixels, wholly on the screen) as packed RGB, without
    /// PNG encoding: what checkpoint checks compare (`checkCheckpoint`), polled several times
    /// a second, where encoding would cost far more than the comparison.
    func capturePixels(region: Rect) async throws -> RGBImage
    func pointerPosition() async throws -> Point
    func move(to point: Point) async throws
    /// Presses and releases `button` `clicks` times (1–3), after moving to `point` when given.
    func click(at point: Point?, button: MouseButton, clicks: Int) async throws
    /// Presses (`down: true`, held and tracked) or releases one button.
    func mouseButton(_ button: MouseButton, down: Bool, at point: Point?) async throws
    /// Press at `start`, move to `end` (interpolated over `duration` seconds when > 0), release.
    func drag(from start: Point, to end: Point, duration: Double, button: MouseButton) async throws
    func scroll(_ direction: ScrollDirection, amount: Int, at point: Point?) async throws
    /// Types `text` exactly, whatever the keymap, Caps Lock or held modifiers.
    func type(_ text: String, options: TypingOptions) async throws
    /// Key chords in xdotool syntax (`ctrl+a ctrl+c`, `tab tab enter`).
    func key(_ chords: String, action: KeyAction) async throws
    func clipboardText() async throws -> String
    func setClipboardText(_ text: String) async throws
    /// `copy_to_clipboard`: press the copy chord, wait for an application to take CLIPBOARD, read it.
    func copySelectionToClipboard(chord: String, timeout: Double) async throws -> String
    /// Releases every key and button held by this driver or left pressed by a crashed client.
    func releaseAllInputs() async throws
}

/// A size in screen pixels.
public struct Size: Sendable, Hashable, Codable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// A point in root-window pixels (0, 0 is the top-left corner of the whole screen).
public struct Point: Sendable, Hashable, Codable {
    public var x: Int
    public var y: Int
    public init(x: Int, y: Int) {
        self.x = x
        self.y = y
    }
}

/// A mouse button, as the API and the CLI name it.
public enum MouseButton: String, Sendable, CaseIterable, Codable {
    case left, middle, right

    /// X11 core button number.
    public var x11Button: UInt32 {
        switch self {
        case .left: 1
        case .middle: 2
        case .right: 3
        }
    }
}

/// Which way a scroll goes; each unit is one wheel click.
public enum ScrollDirection: String, Sendable, CaseIterable, Codable {
    case up, down, left, right

    /// Wheel buttons 4–7.
    public var x11Button: UInt32 {
        switch self {
        case .up: 4
        case .down: 5
        case .left: 6
        case .right: 7
        }
    }
}

/// What `key` does with the chords: press and release them, or only press (held and
/// tracked until released), or only release.
public enum KeyAction: String, Sendable, Codable {
    case tap, down, up
}

/// How `type` sends its keys.
public struct TypingOptions: Sendable {
    /// Pause after each key, for applications that drop fast input (remote desktops,
    /// browsers in VMs). Zero by default: exactness does not depend on pacing.
    public var perKeyDelay: Duration
    public init(perKeyDelay: Duration = .zero) {
        self.perKeyDelay = perKeyDelay
    }
    public static let fast = TypingOptions()
}
