import CyberdeskAPI
import Foundation
import Testing

@testable import Agent

@Suite("Path rules of transfers")
struct TransferPathsTests {
    /// A temporary home with a transfers folder, removed afterwards.
    private func withHome(_ body: (String, TransferPaths) throws -> Void) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        let home = url.resolvingSymlinksInPath().path
        try body(home, TransferPaths(ExecutorConfiguration(homeDirectory: home)))
    }

    private func input(_ filename: String, target: String?) -> FileInputDescriptor {
        FileInputDescriptor(
            attachmentID: "a", filename: filename, targetPath: target, sizeBytes: 0, sha256: "",
            cleanupImportsAfterRun: false)
    }

    @Test("~ is the home, a relative path is in the transfers folder, an absolute path stays")
    func expansion() throws {
        try withHome { (home, paths) throws in
            #expect(try paths.expand("~").path == home)
            #expect(try paths.expand("~/a/b.txt").path == home + "/a/b.txt")
            let relative = try paths.expand("report.pdf")
            #expect(relative.path == home + "/CyberdeskTransfers/report.pdf" && relative.relative)
            #expect(try paths.expand("sub/report.pdf").path == home + "/CyberdeskTransfers/sub/report.pdf")
            let absolute = try paths.expand("/etc/hosts")
            #expect(absolute.path == "/etc/hosts" && !absolute.relative)
        }
    }

    @Test(
        "'..', '~user', empty paths are refused", arguments: ["../x", "a/../../x", "~/../x", "/tmp/..", "~root/x", ""])
    func refused(_ path: String) throws {
        try withHome { (_, paths) throws in
            #expect(throws: FileProblem.self) { try paths.expand(path) }
        }
    }

    @Test("file inputs: no target or a bare filename land in the transfers folder, which is created")
    func importTargets() throws {
        try withHome { (home, paths) throws in
            let transfers = home + "/CyberdeskTransfers"
            #expect(try paths.importTarget(for: input("a.pdf", target: nil)) == transfers + "/a.pdf")
            #expect(FileManager.default.fileExists(atPath: transfers))
            #expect(try paths.importTarget(for: input("a.pdf", target: "")) == transfers + "/a.pdf")
            #expect(try paths.importTarget(for: input("a.pdf", target: "b.pdf")) == transfers + "/b.pdf")
            #expect(try paths.importTarget(for: input("a.pdf", target: "in/")) == transfers + "/in/a.pdf")
            #expect(try paths.importTarget(for: input("a.pdf", target: "~/Documents/")) == home + "/Documents/a.pdf")
            #expect(FileManager.default.fileExists(atPath: home + "/Documents"))
            #expect(try paths.importTarget(for: input("a.pdf", target: "~/Documents")) == home + "/Documents/a.pdf")
            #expect(throws: FileProblem.self) { try paths.importTarget(for: input("../a.pdf", target: nil)) }
            #expect(throws: FileProblem.self) { try paths.importTarget(for: input("x/a.pdf", target: nil)) }
        }
    }

    @Test("a relative path cannot leave the transfers folder through a symlink")
    func symlinkEscape() throws {
        try withHome { (home, paths) throws in
            let transfers = home + "/CyberdeskTransfers"
            try FileManager.default.createDirectory(atPath: transfers, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: home + "/outside", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: transfers + "/escape", withDestinationPath: home + "/outside")
            #expect(throws: FileProblem.self) { try paths.resolve("escape/x.txt") }
            #expect(throws: FileProblem.self) { try paths.importTarget(for: input("x.txt", target: "escape/")) }
            // Said explicitly, the same place is fine: the rule is about relative paths.
            #expect(try paths.resolve("~/CyberdeskTransfers/escape/x.txt") == home + "/outside/x.txt")
        }
    }

    @Test("a dangling symlink is refused rather than followed")
    func danglingSymlink() throws {
        try withHome { (home, paths) throws in
            try FileManager.default.createDirectory(
                atPath: home + "/CyberdeskTransfers", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: home + "/CyberdeskTransfers/dangling", withDestinationPath: home + "/nowhere/file")
            #expect(throws: FileProblem.self) { try paths.resolve("dangling") }
        }
    }

    @Test("exports only from the transfers folder and the extra roots, after resolving symlinks")
    func exportRoots() throws {
        try withHome { (home, _) throws in
            let paths = TransferPaths(ExecutorConfiguration(homeDirectory: home, extraExportRoots: ["~/exports"]))
            let transfers = home + "/CyberdeskTransfers"
            for directory in [transfers, home + "/exports"] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            for path in [transfers + "/in.txt", home + "/exports/x.txt", home + "/secret.txt"] {
                _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
            }
            try FileManager.default.createSymbolicLink(
                atPath: transfers + "/link.txt", withDestinationPath: home + "/secret.txt")
            #expect(try paths.exportable("in.txt") == transfers + "/in.txt")
            #expect(try paths.exportable("~/exports/x.txt") == home + "/exports/x.txt")
            #expect(throws: FileProblem.self) { try paths.exportable("~/secret.txt") }
            #expect(throws: FileProblem.self) { try paths.exportable("link.txt") }
            #expect(throws: FileProblem.self) { try paths.exportable("missing.txt") }
        }
    }
}
