import Foundation

/// Runs `systemd-analyze verify` on unit files the way CI can: without a running systemd,
/// as any user, with the units' binaries not installed.
///
/// systemd 252 exits 0 for many mistakes it only warns about (an unknown key, a value it
/// cannot parse: "…, ignoring"), so a unit passes only when the exit status is 0 *and* no
/// diagnostic line names it.
///
/// `ExecStart=` must name an existing executable, so the system units are verified as
/// copies whose `/usr/local/bin/` is a temporary directory holding stand-in executables
/// with the same names; the user unit is verified unchanged, with `HOME` pointing at a
/// temporary home that has `.local/bin/cyberdesk-agent` (its `%h` is `$HOME`) and an
/// `XDG_RUNTIME_DIR`, without which a user-mode verify cannot start at all.
struct SystemdAnalyze {
    /// Result of one `verify`.
    struct Verdict {
        var status: Int32
        var output: String
        /// The diagnostic lines that concern the verified unit.
        var problems: [String]
        var passed: Bool { status == 0 && problems.isEmpty }
    }

    let executable: String

    /// The tool, when installed.
    static let installed: SystemdAnalyze? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/systemd-analyze"
            if FileManager.default.isExecutableFile(atPath: candidate) { return SystemdAnalyze(executable: candidate) }
        }
        return nil
    }()

    /// Whether CI asked for these tests to fail rather than skip when the tool is missing.
    static let required = ProcessInfo.processInfo.environment["CYBERDESK_REQUIRE_SYSTEMD"] == "1"

    /// Why the tool cannot be used here, or `nil` when it can: it must be installed and
    /// pass a trivially valid unit in both system and user mode.
    static let unavailableReason: String? = {
        guard let tool = installed else {
            return "systemd-analyze is not installed (apt-get install systemd)"
        }
        do {
            let sandbox = try VerifySandbox()
            let probe = try sandbox.write(unit: "probe.service", contents: "[Service]\nExecStart=/bin/true\n")
            for user in [false, true] {
                let verdict = try tool.verify(probe, user: user, sandbox: sandbox)
                guard verdict.passed else {
                    return "systemd-analyze\(user ? " --user" : "") verify cannot run here: \(verdict.output)"
                }
            }
            return nil
        } catch {
            return "systemd-analyze cannot run here: \(error)"
        }
    }()

    /// Verifies `unit` (a path); `user` selects the user manager's rules.
    func verify(_ unit: String, user: Bool, sandbox: VerifySandbox) throws -> Verdict {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = (user ? ["--user"] : []) + ["verify", "--man=no", "--generators=no", unit]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = sandbox.home
        environment["XDG_RUNTIME_DIR"] = sandbox.runtimeDirectory
        environment["SYSTEMD_LOG_COLOR"] = "0"
        environment["SYSTEMD_PAGER"] = "cat"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let name = (unit as NSString).lastPathComponent
        let problems = text.split(separator: "\n").map(String.init).filter { $0.contains(name) }
        return Verdict(status: process.terminationStatus, output: text, problems: problems)
    }
}
