import Agent
import Foundation
import Testing

@Suite("Daemon settings and backoff")
struct DaemonSettingsTests {
    func configFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agent-\(UUID().uuidString).conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("flags win over CYBERDESK_* variables, which win over the config file")
    func precedence() throws {
        let file = try configFile(
            """
            # a comment
            server = "http://file:8080"
            log_level = debug
            export-roots = ~/Exports, /srv/out
            pools = a,b
            """)
        let settings = try AgentSettings.resolve(
            flags: ["server": "http://flag:1", "config": file],
            environment: ["CYBERDESK_SERVER": "http://env:2", "CYBERDESK_LOG_LEVEL": "warning", "HOME": "/home/u"],
            configFile: nil)
        #expect(settings.server == "http://flag:1")
        #expect(settings.logLevel == "warning")
        #expect(settings.exportRoots == ["~/Exports", "/srv/out"])
        #expect(settings.pools == ["a", "b"])
        let fromFile = try AgentSettings.resolve(
            flags: ["config": file], environment: ["HOME": "/home/u"], configFile: nil)
        #expect(fromFile.server == "http://file:8080")
        #expect(fromFile.logLevel == "debug")
    }

    @Test("a config file with an unknown key or a line without '=' is refused with its line number")
    func badConfig() throws {
        for (text, expected) in [
            ("server = x\nsecret = y", ":2: unknown setting 'secret'"), ("server", ":1: expected"),
        ] {
            let file = try configFile(text)
            #expect {
                try AgentSettings.resolve(flags: ["config": file], environment: [:], configFile: nil)
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
        #expect(throws: AgentError.self) {
            try AgentSettings.resolve(flags: ["config": "/nonexistent/agent.conf"], environment: [:], configFile: nil)
        }
    }

    @Test("backoff: full jitter under a doubling cap, Retry-After as a floor, reset")
    func backoff() {
        var backoff = Backoff(base: 1, maximum: 60)
        var caps: [Double] = []
        for _ in 0..<8 {
            _ = backoff.next(random: { range in
                caps.append(range.upperBound)
                return range.lowerBound
            })
        }
        #expect(caps == [1, 2, 4, 8, 16, 32, 60, 60])
        #expect(backoff.next(retryAfter: 5, random: { _ in 0 }) == 5)
        #expect(backoff.next(retryAfter: 500, random: { _ in 0 }) == 60)
        backoff.reset()
        #expect(backoff.next(random: { $0.upperBound }) == 1)
        // Real jitter spreads agents out: 1,000 draws at the 60 s cap are not bunched.
        var spread = Backoff(base: 60, maximum: 60)
        let draws = (0..<1000).map { _ in spread.next() }
        #expect(draws.min()! < 6 && draws.max()! > 54)
    }

    @Test("the state dir keeps one fingerprint, refuses a damaged one, and reset-identity forgets it")
    func identity() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
        let state = StateDirectory(path: dir)
        let first = try state.fingerprint()
        #expect(try state.fingerprint() == first)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/fingerprint")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try "not a uuid".write(toFile: dir + "/fingerprint", atomically: true, encoding: .utf8)
        #expect(throws: AgentError.self) { try state.fingerprint() }
        state.resetIdentity()
        #expect(try state.fingerprint() != first)
    }
}
