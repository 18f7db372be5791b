import Foundation

/// An xterm running `cat > file`: what the driver types lands in the file byte for byte.
public struct XtermCat {
    public let output: URL
    private let directory: URL

    /// - Parameters:
    ///   - resources: `-xrm` resource lines (translations, selection behaviour).
    ///   - banner: text printed before `cat` starts, shown on the xterm's first line.
    ///   - geometry: xterm's `-geometry` (columns x rows + x + y).
    ///   - echo: whether typed text is shown in the window (off for a screen that must not show
    ///     a typed secret, as a password field would not).
    ///   - niceness: runs the xterm at this nice level (19: the last to get a CPU), to make it lag.
    public init(
        on server: XvfbServer, resources: [String] = [], banner: String? = nil, geometry: String = "120x40+0+0",
        echo: Bool = true, niceness: Int? = nil
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cyberdesk-xterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        output = directory.appendingPathComponent("typed.txt")
        let ready = directory.appendingPathComponent("ready")
        // Non-canonical mode: no line editing, so every byte reaches cat as typed.
        let print = banner.map { "printf '%s\\n' '\($0)'; " } ?? ""
        let command = niceness.map { ["nice", "-n", "\($0)", "xterm"] } ?? ["xterm"]
        try server.launch(
            command[0],
            Array(command.dropFirst()) + ["-u8", "-geometry", geometry] + resources.flatMap { ["-xrm", $0] } + [
                "-e", "sh", "-c",
                "stty -icanon\(echo ? "" : " -echo"); \(print)touch '\(ready.path)'; exec cat > '\(output.path)'",
            ],
            environment: ["LC_ALL": "C.UTF-8"])
        let started = await eventually { FileManager.default.fileExists(atPath: ready.path) }
        guard started else { throw TestFailure("xterm did not start") }
    }

    /// Where to put the pointer so the xterm has keyboard focus (no window manager:
    /// focus follows the pointer).
    public static let focusPoint = (x: 100, y: 100)

    /// Waits until the file holds `count` occurrences of `marker` and returns the whole content.
    public func waitForText(containing count: Int, of marker: String, timeout: Duration = .seconds(60)) async -> String
    {
        var text = ""
        _ = await eventually(timeout: timeout) {
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.components(separatedBy: marker).count - 1 >= count
        }
        return text
    }

    /// Waits until `marker` ends the file and returns the whole content.
    public func waitForText(endingWith marker: String, timeout: Duration = .seconds(20)) async -> String {
        var text = ""
        _ = await eventually(timeout: timeout) {
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.hasSuffix(marker)
        }
        return text
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
