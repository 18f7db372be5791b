import Foundation

/// An xterm running `cat > file`: what the driver types lands in the file byte for byte.
struct XtermCat {
    let output: URL
    private let directory: URL

    init(on server: XvfbServer) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cyberdesk-xterm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        output = directory.appendingPathComponent("typed.txt")
        let ready = directory.appendingPathComponent("ready")
        // Non-canonical mode: no line editing, so every byte reaches cat as typed.
        try server.launch(
            "xterm",
            [
                "-u8", "-geometry", "120x40+0+0", "-e", "sh", "-c",
                "stty -icanon; touch '\(ready.path)'; exec cat > '\(output.path)'",
            ],
            environment: ["LC_ALL": "C.UTF-8"])
        let started = await eventually { FileManager.default.fileExists(atPath: ready.path) }
        guard started else { throw TestFailure("xterm did not start") }
    }

    /// Where to put the pointer so the xterm has keyboard focus (no window manager:
    /// focus follows the pointer).
    static let focusPoint = (x: 100, y: 100)

    /// Waits until `marker` ends the file and returns the whole content.
    func waitForText(endingWith marker: String, timeout: Duration = .seconds(20)) async -> String {
        var text = ""
        _ = await eventually(timeout: timeout) {
            text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.hasSuffix(marker)
        }
        return text
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}
