import Foundation

/// A throw-away directory tree for verification: stand-in binaries, a home, a runtime
/// directory and room for unit copies. Removed on deinit.
final class VerifySandbox {
    let root: String
    var home: String { root + "/home" }
    var runtimeDirectory: String { root + "/run" }
    var binaries: String { root + "/bin" }

    init() throws {
        var template = Array("/tmp/cyberdesk-units-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemTestError("mkdtemp failed") }
        root = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let files = FileManager.default
        try files.createDirectory(
            atPath: runtimeDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        try files.createDirectory(atPath: home + "/.local/bin", withIntermediateDirectories: true)
        try files.createDirectory(atPath: binaries, withIntermediateDirectories: true)
        try files.createDirectory(atPath: root + "/units", withIntermediateDirectories: true)
        for path in [
            binaries + "/cyberdesk-agent", binaries + "/cyberdesk-server", home + "/.local/bin/cyberdesk-agent",
        ] {
            try standIn(at: path)
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// A unit file named `unit` with `contents`; returns its path.
    func write(unit: String, contents: String) throws -> String {
        let path = root + "/units/" + unit
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `contents` with the install location of the binaries moved into this sandbox.
    func relocatingBinaries(_ contents: String) -> String {
        contents.replacingOccurrences(of: "/usr/local/bin/", with: binaries + "/")
    }

    private func standIn(at path: String) throws {
        try "#!/bin/sh\nexit 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }
}
