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

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check the display, XTest, MIT-SHM, RandR, the keymap and the transfer folder; exit 1 if any check fails.")
    @OptionGroup var display: DisplayOptions

    struct Report: Encodable {
        var ok: Bool
        var checks: [DiagnosticCheck]
    }

    func run() async throws {
        var checks: [DiagnosticCheck] = []
        let name = display.display ?? ProcessInfo.processInfo.environment["DISPLAY"]
        checks.append(
            .init(
                name: "display", status: name == nil ? .fail : .pass,
                detail: name.map { "DISPLAY=\($0)" }
                    ?? "DISPLAY is not set: run on the desktop session, or set DISPLAY and XAUTHORITY"))
        do {
            let desktop = try await X11Desktop(.init(displayName: display.display))
            checks += await desktop.diagnose()
            await desktop.close(releasingHeldInput: false)
        } catch {
            checks.append(.init(name: "x11", status: .fail, detail: "\(error)"))
        }
        checks.append(transferFolderCheck())
        let ok = !checks.contains { $0.status == .fail }
        try printJSON(Report(ok: ok, checks: checks))
        if !ok { throw ExitCode.failure }
    }

    private func transferFolderCheck() -> DiagnosticCheck {
        let folder = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent("CyberdeskTransfers").path
        var isDirectory = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory, FileManager.default.isWritableFile(atPath: folder) else {
                return .init(name: "transfers", status: .fail, detail: "\(folder) exists but is not a writable folder")
            }
            return .init(name: "transfers", status: .pass, detail: "\(folder) is writable")
        }
        return .init(name: "transfers", status: .pass, detail: "\(folder) will be created on the first file transfer")
    }
}
