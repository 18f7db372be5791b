import Foundation
import Testing

extension SystemTests {
    /// `systemd-analyze verify` on the unit files in `systemd/`, and proof that it catches
    /// mistakes. The verify tests are skipped only when systemd-analyze cannot run at all;
    /// with CYBERDESK_REQUIRE_SYSTEMD=1 (CI) that is a failure instead.
    @Suite("systemd units")
    struct SystemdUnitTests {
        /// A unit in the repository, how to verify it, and the file name it is verified under.
        struct UnitFile: Sendable, CustomTestStringConvertible {
            var file: String
            var user: Bool
            var testDescription: String { file }
        }

        static let units = [
            UnitFile(file: "cyberdesk-agent.service", user: false),
            UnitFile(file: "cyberdesk-agent-user.service", user: true),
            UnitFile(file: "cyberdesk-server.service", user: false),
        ]

        /// Runs a test when systemd-analyze works here, or when CI requires it (and the test
        /// then fails with the reason it cannot run).
        static let verifyAvailable: ConditionTrait = .enabled(
            if: SystemdAnalyze.unavailableReason == nil || SystemdAnalyze.required,
            "systemd-analyze is missing or cannot run here (apt-get install systemd; CYBERDESK_REQUIRE_SYSTEMD=1 fails instead)"
        )

        /// `systemd/` at the top of the repository, found from this file's path.
        static let directory = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("systemd").path

        @Test("systemd-analyze verify passes", verifyAvailable, arguments: units)
        func verifies(unit: UnitFile) throws {
            let verdict = try verify(unit, contents: try Self.contents(of: unit))
            #expect(verdict.passed, "\(unit.file):\n\(verdict.output)")
        }

        @Test(
            "a broken copy is rejected, so the check above can fail", verifyAvailable,
            arguments: [
                ("Type=notify", "Typ=notify"),
                ("Restart=on-failure", "Restart=sometimes"),
                ("WatchdogSec=60", "WatchdogSec=sixty"),
                ("NotifyAccess=main", "NotifyAccess=some"),
            ])
        func rejectsBrokenCopies(original: String, broken: String) throws {
            for unit in Self.units {
                let contents = try Self.contents(of: unit)
                try #require(contents.contains(original + "\n"), "\(unit.file) has no line '\(original)'")
                let verdict = try verify(
                    unit, contents: contents.replacingOccurrences(of: original + "\n", with: broken + "\n"))
                #expect(!verdict.passed, "\(unit.file) with '\(broken)' passed:\n\(verdict.output)")
            }
        }

        @Test(
            "a unit whose ExecStart is not an absolute path to an executable is rejected", verifyAvailable,
            arguments: units)
        func rejectsMissingExecutable(unit: UnitFile) throws {
            let contents = try Self.contents(of: unit)
                .replacingOccurrences(of: "/cyberdesk-agent run", with: "/cyberdesk-agnet run")
                .replacingOccurrences(of: "/cyberdesk-server serve", with: "/cyberdesk-sever serve")
            let verdict = try verify(unit, contents: contents)
            #expect(!verdict.passed, "\(unit.file) with a misspelt binary passed:\n\(verdict.output)")
        }

        @Test("the decisions the daemons rely on are in the units", arguments: units)
        func settings(unit: UnitFile) throws {
            let settings = Self.settings(try Self.contents(of: unit))
            #expect(settings["Type"] == ["notify"])
            #expect(settings["NotifyAccess"] == ["main"])
            #expect(settings["WatchdogSec"] == ["60"])
            #expect(settings["Restart"] == ["on-failure"])
            if unit.file.hasPrefix("cyberdesk-agent") {
                #expect(settings["KillMode"] == ["mixed"])
                #expect(settings["TimeoutStopSec"] == ["90"])
                #expect(settings["RestartPreventExitStatus"] == ["78"])
            }
            switch unit.file {
            case "cyberdesk-agent.service":
                #expect(settings["PrivateTmp"] == ["no"], "X11's socket is in /tmp/.X11-unix")
                #expect(settings["ProtectHome"] == nil, "the X cookie and the transfer folder are in the home")
                #expect(settings["Environment"]?.contains("DISPLAY=:0") == true)
                #expect(settings["Environment"]?.contains { $0.hasPrefix("XAUTHORITY=/") } == true)
                #expect(settings["WantedBy"] == ["graphical.target"])
            case "cyberdesk-agent-user.service":
                #expect(settings["PartOf"] == ["graphical-session.target"])
                #expect(settings["WantedBy"] == ["graphical-session.target"])
            default:
                #expect(settings["DynamicUser"] == ["yes"])
                #expect(settings["ProtectSystem"] == ["strict"])
                #expect(settings["ExecStart"]?.first?.hasSuffix("--data-dir /var/lib/cyberdesk-server") == true)
            }
        }

        /// Verifies `contents` as `unit`: system units with their binaries moved into the
        /// sandbox, the user unit as it is (its binary is under the sandbox's `%h`).
        private func verify(_ unit: UnitFile, contents: String) throws -> SystemdAnalyze.Verdict {
            guard let tool = SystemdAnalyze.installed, SystemdAnalyze.unavailableReason == nil else {
                throw SystemTestError(SystemdAnalyze.unavailableReason ?? "systemd-analyze is not installed")
            }
            let sandbox = try VerifySandbox()
            let text = unit.user ? contents : sandbox.relocatingBinaries(contents)
            return try tool.verify(sandbox.write(unit: unit.file, contents: text), user: unit.user, sandbox: sandbox)
        }

        private static func contents(of unit: UnitFile) throws -> String {
            try String(contentsOfFile: directory + "/" + unit.file, encoding: .utf8)
        }

        /// `Key=value` lines by key, comments and section headers left out.
        private static func settings(_ contents: String) -> [String: [String]] {
            var result: [String: [String]] = [:]
            for line in contents.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                result[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
            }
            return result
        }
    }
}
