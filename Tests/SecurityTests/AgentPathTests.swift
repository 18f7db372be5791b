import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

@testable import Agent

/// The machine side of hostile paths: computer API `fs/*` and `shell/exec` with a real
/// temporary HOME. Paths leading out of the home (absolute, `..`, through symlinks), and
/// names with NUL or control characters, are refused with a message, and nothing is
/// written outside.
@Suite("Agent: hostile paths")
struct AgentPathTests {
    /// A home with `CyberdeskTransfers`, a sibling folder `outside` holding `secret.txt`,
    /// and symlinks leading there from the transfers folder and from the home.
    struct World {
        let root: String
        let home: String
        let outside: String
        let files: CommandFilesAccess

        init() throws {
            root = try TemporaryDirectory().path
            home = URL(fileURLWithPath: root).resolvingSymlinksInPath().path + "/home"
            outside = URL(fileURLWithPath: root).resolvingSymlinksInPath().path + "/outside"
            let manager = FileManager.default
            try manager.createDirectory(atPath: home + "/CyberdeskTransfers", withIntermediateDirectories: true)
            try manager.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try Data("outside secret".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
            try manager.createSymbolicLink(atPath: home + "/CyberdeskTransfers/escape", withDestinationPath: outside)
            try manager.createSymbolicLink(atPath: home + "/link.txt", withDestinationPath: outside + "/secret.txt")
            try manager.createSymbolicLink(atPath: home + "/out", withDestinationPath: outside)
            files = CommandFilesAccess(configuration: ExecutorConfiguration(homeDirectory: home))
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }

        /// Every file under `outside`, to prove nothing was written there.
        func outsideFiles() throws -> [String] { try TemporaryDirectory.files(under: outside) }
    }

    static let base64 = Data("planted".utf8).base64EncodedString()

    /// (action, params, words the refusal must contain)
    static let refusals: [(String, JSONObject, [String])] = [
        ("fs/read", ["path": "/etc/passwd"], ["outside the agent user's home"]),
        ("fs/read", ["path": "~/link.txt"], ["outside the agent user's home"]),
        ("fs/read", ["path": "escape/secret.txt"], ["leads outside"]),
        ("fs/read", ["path": "~/../outside/secret.txt"], [".."]),
        ("fs/read", ["path": "~root/.ssh/id_rsa"], ["~user"]),
        ("fs/list", ["path": "/"], ["outside the agent user's home"]),
        ("fs/list", ["path": "~/out"], ["outside the agent user's home"]),
        ("fs/write", ["path": "escape/planted.txt", "content": .string(base64)], ["leads outside"]),
        ("fs/write", ["path": "~/out/planted.txt", "content": .string(base64)], ["outside the agent user's home"]),
        ("fs/write", ["path": "../outside/planted.txt", "content": .string(base64)], [".."]),
        ("fs/write", ["path": "planted\u{0}.txt", "content": .string(base64)], ["NUL"]),
        ("fs/write", ["path": "planted\n.txt", "content": .string(base64)], ["control character"]),
        ("fs/write", ["path": "\u{1b}[2Jplanted.txt", "content": .string(base64)], ["control character"]),
        ("shell/exec", ["command": "touch planted", "working_directory": "~/out"], ["outside the agent user's home"]),
    ]

    @Test("fs and shell commands outside the home are refused and write nothing", arguments: refusals.indices)
    func refused(_ index: Int) async throws {
        let (action, params, words) = Self.refusals[index]
        let world = try World()
        defer { world.remove() }
        let before = try world.outsideFiles()
        let homeBefore = try TemporaryDirectory.files(under: world.home)
        do {
            let answer = try await world.files.perform(action, params)
            Issue.record("\(action) \(params) was allowed: \(answer)")
        } catch let refusal as CommandRunner.BadParameter {
            for word in words {
                #expect(refusal.message.contains(word), "\(action) \(params): \(refusal.message)")
            }
        }
        #expect(try world.outsideFiles() == before)
        #expect(try TemporaryDirectory.files(under: world.home) == homeBefore)
    }

    @Test("the same commands inside the home work, so the refusals above are about the path")
    func allowedInside() async throws {
        let world = try World()
        defer { world.remove() }
        let written = try await world.files.perform("fs/write", ["path": "note.txt", "content": .string(Self.base64)])
        #expect(written.objectValue?["path"]?.stringValue == world.home + "/CyberdeskTransfers/note.txt")
        let read = try await world.files.perform("fs/read", ["path": "~/CyberdeskTransfers/note.txt"])
        #expect(read.objectValue?["content"]?.stringValue == Self.base64)
        let listed = try await world.files.perform("fs/list", ["path": "~"])
        #expect(listed.objectValue?["entries"]?.arrayValue?.isEmpty == false)
    }
}
