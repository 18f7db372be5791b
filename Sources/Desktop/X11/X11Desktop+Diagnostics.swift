import CX11

/// One line of `cyberdesk-agent doctor`.
public struct DiagnosticCheck: Sendable, Codable {
    public enum Status: String, Sendable, Codable { case pass, warn, fail }
    public var name: String
    public var status: Status
    public var detail: String

    public init(name: String, status: Status, detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

extension X11Desktop {
    /// Checks what the driver relies on: XTest, MIT-SHM, RandR, the XKB keymap and its
    /// empty keycodes, and input left pressed by another client.
    public func diagnose() -> [DiagnosticCheck] {
        var checks: [DiagnosticCheck] = []
        var eventBase: Int32 = 0
        var errorBase: Int32 = 0
        var major: Int32 = 0
        var minor: Int32 = 0
        XTestQueryExtension(display, &eventBase, &errorBase, &major, &minor)
        checks.append(.init(name: "xtest", status: .pass, detail: "XTEST \(major).\(minor)"))
        let size = (try? dimensions()) ?? Size(width: 0, height: 0)
        checks.append(
            .init(
                name: "screen", status: .pass,
                detail: "\(size.width)x\(size.height), depth \(cx11_default_depth(display))"))
        if usesSharedMemory() {
            checks.append(.init(name: "mit-shm", status: .pass, detail: "screenshots use a shared memory segment"))
        } else {
            checks.append(
                .init(
                    name: "mit-shm", status: .warn,
                    detail: "MIT-SHM unavailable (remote display?): screenshots fall back to XGetImage"))
        }
        let monitors = monitors()
        checks.append(
            .init(
                name: "randr", status: monitors.isEmpty ? .warn : .pass,
                detail: monitors.isEmpty
                    ? "RandR reports no monitors; the whole root is captured"
                    : monitors.map {
                        "\($0.index): \($0.frame.width)x\($0.frame.height)+\($0.frame.x)+\($0.frame.y)\($0.primary ? " primary" : "")"
                    }.joined(separator: ", ")))
        do {
            let keymap = try Keymap.load(display: display)
            let status: DiagnosticCheck.Status = keymap.emptyKeycodes.isEmpty ? .fail : .pass
            checks.append(
                .init(
                    name: "keymap", status: status,
                    detail:
                        "\(keymap.strokes.count) keysyms in group \(keymap.group + 1), \(keymap.emptyKeycodes.count) empty keycodes for characters not on the keymap"
                        + (keymap.emptyKeycodes.isEmpty ? " (none: only characters on the keymap can be typed)" : "")))
        } catch {
            checks.append(.init(name: "keymap", status: .fail, detail: "\(error)"))
        }
        let pressed = pressedInputs()
        if pressed.keys.isEmpty && pressed.buttons.isEmpty {
            checks.append(.init(name: "held-input", status: .pass, detail: "no key or mouse button is pressed"))
        } else {
            checks.append(
                .init(
                    name: "held-input", status: .warn,
                    detail:
                        "pressed now: keycodes \(pressed.keys), buttons \(pressed.buttons); `cyberdesk-agent release` releases what an XTest client left down"
                ))
        }
        return checks
    }
}
