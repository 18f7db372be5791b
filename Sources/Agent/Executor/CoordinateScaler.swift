import CyberdeskAPI
import Desktop

/// Maps a point of the trajectory's `dimensions` to the real screen, proportionally on each
/// axis.
///
/// A recorded pixel maps to the screen pixel under its centre: `floor((x + 0.5) * scale)`.
/// With a scale of 1 that is the recorded pixel itself; with 1024x768 → 1920x1080 the corner
/// pixels map to the screen's corners. Points outside the recorded screen stay outside (the
/// desktop rejects them), nothing is clamped silently.
struct CoordinateScaler: Sendable, Equatable {
    let recorded: Size
    let screen: Size

    var scaleX: Double { Double(screen.width) / Double(recorded.width) }
    var scaleY: Double { Double(screen.height) / Double(recorded.height) }
    var isIdentity: Bool { recorded == screen }

    /// Without recorded dimensions (or nonsensical ones), coordinates are screen pixels.
    init(recorded: DisplaySize?, screen: Size) {
        if let recorded, recorded.width > 0, recorded.height > 0 {
            self.recorded = Size(width: recorded.width, height: recorded.height)
        } else {
            self.recorded = screen
        }
        self.screen = screen
    }

    func point(x: Double, y: Double) -> Point {
        Point(x: Self.map(x, scaleX), y: Self.map(y, scaleY))
    }

    private static func map(_ value: Double, _ scale: Double) -> Int {
        let mapped = ((value + 0.5) * scale).rounded(.down)
        // Far outside any screen; the desktop rejects it with the real point in the message.
        guard mapped.magnitude < 1e9 else { return mapped < 0 ? -1_000_000_000 : 1_000_000_000 }
        return Int(mapped)
    }
}
