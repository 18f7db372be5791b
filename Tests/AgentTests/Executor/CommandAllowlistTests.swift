import Testing

@testable import Agent

@Suite("terminal_command_allowlist matching")
struct CommandAllowlistTests {
    static let allowlist = CommandAllowlist(entries: ["echo", "git status", "ls", "ps aux | grep app"])

    @Test(
        "allowed: an entry's words, then arguments without shell operators",
        arguments: [
            "echo", "echo hello world", "  echo   'spaced   out'  ", "git status", "git   status --short",
            "ls -la /tmp", "ps aux | grep app", "ps aux | grep app -v", "echo $HOME",
        ])
    func allowed(_ command: String) {
        #expect(Self.allowlist.refusal(for: command) == nil)
    }

    @Test(
        "refused: other commands, longer words, and operators after an entry",
        arguments: [
            "rm -rf /", "lsblk", "echoes", "git push", "git", "echo hi; rm -rf ~", "echo hi && reboot",
            "echo hi | sh", "echo $(id)", "echo `id`", "echo hi > ~/.bashrc", "ls < /etc/passwd", "echo hi\nreboot",
            "ls &", "ps aux | grep app; reboot",
        ])
    func refused(_ command: String) throws {
        let refusal = try #require(Self.allowlist.refusal(for: command))
        #expect(refusal.contains("terminal_command_allowlist"))
    }

    @Test("an empty allowlist allows nothing")
    func emptyList() {
        #expect(CommandAllowlist(entries: []).refusal(for: "echo hi")?.contains("empty") == true)
        #expect(CommandAllowlist(entries: ["  "]).refusal(for: "echo hi") != nil)
    }

    @Test("the refusal names the operator that was added")
    func namesOperator() {
        #expect(Self.allowlist.refusal(for: "echo a; b")?.contains("';'") == true)
        #expect(Self.allowlist.refusal(for: "echo a\nb")?.contains("a line break") == true)
    }
}
