import Agent
import CyberdeskAPI
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Run executor: file inputs, files and exports")
    struct RunExecutorFileTests {
        static let csv = Array("patient,visit\nAda,2024-01-02\nÉmile,2024-02-03\n".utf8)
        static let scan: [UInt8] = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }

        static func input(
            _ id: String, _ filename: String, _ bytes: [UInt8], target: String? = nil, cleanup: Bool = false,
            sha256: String? = nil, size: Int64? = nil
        ) async throws -> FileInputDescriptor {
            let digest: String
            if let sha256 {
                digest = sha256
            } else {
                digest = try await sha256Hex(bytes)
            }
            return FileInputDescriptor(
                attachmentID: id, filename: filename, targetPath: target, sizeBytes: size ?? Int64(bytes.count),
                sha256: digest, cleanupImportsAfterRun: cleanup)
        }

        /// Checksums from the system's sha256sum, independent of the agent's implementation.
        static func sha256Hex(_ bytes: [UInt8]) async throws -> String {
            let result = try await runProcess("sha256sum", [], input: Data(bytes))
            return String(String(decoding: result.stdout, as: UTF8.self).prefix(64))
        }

        /// Names in a directory that look like leftover temporary files.
        static func temporaryFiles(in directory: String) -> [String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.filter { $0.hasPrefix(".") }
        }

        @Test("file inputs are verified, written atomically where asked, used by steps, and cleaned up")
        func importsFiles() async throws {
            let attachments = ["att_csv": Self.csv, "att_scan": Self.scan, "att_note": Array("note".utf8)]
            try await ExecutorWorld.with(attachments: attachments) { world in
                // An older version, held open: an atomic replace leaves this reader on the old file.
                let old = try world.write("old content", to: "CyberdeskTransfers/visits.csv")
                let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: old))
                defer { try? reader.close() }
                let inputs = [
                    try await Self.input("att_csv", "visits.csv", Self.csv),
                    try await Self.input("att_scan", "scan.bin", Self.scan, target: "~/Documents/", cleanup: true),
                    try await Self.input(
                        "att_note", "n.txt", Array("note".utf8), target: "notes/today.txt", cleanup: true),
                ]
                let outcome = await world.run(
                    [
                        step("read_file", "visits.csv", "csv"),
                        step(
                            "execute_terminal_command",
                            kwargs: [
                                "command": "sha256sum Documents/scan.bin | cut -c1-64", "output_key": "scan",
                            ]),
                        step("read_file", "notes/today.txt", "note"),
                    ],
                    fileInputs: inputs)
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(outcome.outputData["csv"] == .string(String(decoding: Self.csv, as: UTF8.self)))
                #expect(outcome.outputData["scan"] == .string(try await Self.sha256Hex(Self.scan)))
                #expect(outcome.outputData["note"] == "note")
                #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == "old content")
                #expect(world.read("CyberdeskTransfers/visits.csv") == String(decoding: Self.csv, as: UTF8.self))
                #expect(!world.exists("Documents/scan.bin"), "cleaned up after the run")
                #expect(!world.exists("CyberdeskTransfers/notes/today.txt"), "cleaned up after the run")
                #expect(Self.temporaryFiles(in: world.transfers).isEmpty)
                #expect(Self.temporaryFiles(in: world.home + "/Documents").isEmpty)
                let imports = await world.environment.events.filter { $0["type"] == "file_import" }
                #expect(imports.count == 3)
                #expect(imports.first?["sha256"] == .string(try await Self.sha256Hex(Self.csv)))
            }
        }

        @Test(
            "a checksum or size mismatch is an error: nothing is written, no step runs, earlier imports are cleaned up")
        func checksumMismatch() async throws {
            let attachments = ["att_ok": Array("fine".utf8), "att_bad": Self.csv]
            try await ExecutorWorld.with(attachments: attachments) { world in
                let bad = [
                    try await Self.input("att_bad", "bad.csv", Self.csv, sha256: String(repeating: "0", count: 64)),
                    try await Self.input("att_bad", "bad.csv", Self.csv, size: Int64(Self.csv.count + 1)),
                ]
                let good = try await Self.input("att_ok", "ok.txt", Array("fine".utf8), cleanup: true)
                for (index, input) in bad.enumerated() {
                    let outcome = await world.run(
                        [step("write_file", "ran.txt", "the steps ran")],
                        fileInputs: [good, input])
                    #expect(outcome.status == .error)
                    let error = try #require(outcome.errors.first)
                    #expect(error.hasPrefix("file input 'bad.csv': "))
                    #expect(error.contains(index == 0 ? "SHA-256 checksum mismatch" : "expected \(Self.csv.count + 1)"))
                    #expect(!world.exists("CyberdeskTransfers/bad.csv"))
                    #expect(!world.exists("CyberdeskTransfers/ran.txt"))
                    #expect(!world.exists("CyberdeskTransfers/ok.txt"), "cleaned up although the run failed")
                }
                #expect(await world.environment.startedSteps.isEmpty)
            }
        }

        @Test("an import target leading out of the transfers folder through a symlink is refused")
        func importSymlinkEscape() async throws {
            try await ExecutorWorld.with(attachments: ["att": Array("x".utf8)]) { world in
                try FileManager.default.createDirectory(
                    atPath: world.home + "/outside", withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: world.transfers, withIntermediateDirectories: true)
                try FileManager.default.createSymbolicLink(
                    atPath: world.transfers + "/escape", withDestinationPath: world.home + "/outside")
                let input = try await Self.input("att", "x.txt", Array("x".utf8), target: "escape/")
                let outcome = await world.run([step("wait", 0)], fileInputs: [input])
                #expect(outcome.status == .error)
                #expect(outcome.errors.first?.contains("leads outside") == true)
                #expect(!world.exists("outside/x.txt"))
            }
        }

        @Test("write_file replaces atomically or appends, read_file reads; a missing file fails the task")
        func readAndWrite() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run(
                    [
                        step("write_file", "a.txt", "line 1 for {name}\n"),
                        step("write_file", "a.txt", "line 2\n", "append"),
                        step("read_file", "a.txt", "both"),
                        step("write_file", "~/b.txt", "{{both}}replaced"),
                        step("read_file", "~/b.txt", "replaced"),
                        step("write_file", "~/b.txt", "appended", kwargs: ["mode": "append"]),
                    ], inputs: ["name": "Zoé"])
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(outcome.outputData["both"] == "line 1 for Zoé\nline 2\n")
                #expect(outcome.outputData["replaced"] == "line 1 for Zoé\nline 2\nreplaced")
                #expect(world.read("b.txt") == "line 1 for Zoé\nline 2\nreplacedappended")
                #expect(Self.temporaryFiles(in: world.transfers).isEmpty)

                let missing = await world.run([step("read_file", "missing.txt", "x")])
                #expect(missing.status == .taskFailed)
                #expect(missing.errors.first?.hasPrefix("step 0 (read_file): cannot open '") == true)
                #expect(missing.errors.first?.hasSuffix("missing.txt': No such file or directory") == true)

                let noDirectory = await world.run([step("write_file", "~/no/such/dir.txt", "x")])
                #expect(noDirectory.status == .taskFailed)
            }
        }

        @Test("includes_file_exports uploads new and changed files once, not unchanged or outside ones")
        func exportsChangedFiles() async throws {
            try await ExecutorWorld.with { world in
                try world.write("same", to: "CyberdeskTransfers/unchanged.txt")
                try world.write("before", to: "CyberdeskTransfers/changed.txt")
                try world.write("deep same", to: "CyberdeskTransfers/sub/deep-unchanged.txt")
                let outcome = await world.run(
                    [
                        step("write_file", "new.txt", "fresh"),
                        step("write_file", "changed.txt", " + more", "append"),
                        step("mark_file_for_export", "new.txt"),
                        step(
                            "execute_terminal_command", "mkdir -p sub && printf deep > sub/deep.txt",
                            kwargs: ["working_directory": "~/CyberdeskTransfers"]),
                        step("write_file", "~/not-exported.txt", "outside"),
                    ], includesFileExports: true)
                #expect(outcome.status == .success, "\(outcome.errors)")
                let exports = await world.environment.exports
                #expect(exports.map(\.filename).sorted() == ["changed.txt", "deep.txt", "new.txt"])
                #expect(exports.first?.filename == "new.txt", "the explicit export happens when its step runs")
                let byName = Dictionary(exports.map { ($0.filename, $0) }) { first, _ in first }
                #expect(byName["changed.txt"]?.bytes == Array("before + more".utf8))
                #expect(byName["deep.txt"]?.path == world.transfers + "/sub/deep.txt")
                let marked = try #require(
                    await world.environment.stepEvents.first { $0["func_name"] == "mark_file_for_export" })
                #expect(marked["result"]?.objectValue?["attachment_id"] == .string(exports[0].id))
            }
        }

        @Test("without includes_file_exports only marked files are uploaded")
        func onlyMarkedWithoutFlag() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([
                    step("write_file", "one.txt", "1"), step("write_file", "two.txt", "2"),
                    step("mark_file_for_export", "~/CyberdeskTransfers/two.txt"),
                ])
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(await world.environment.exports.map(\.filename) == ["two.txt"])
            }
        }

        @Test("mark_file_for_export outside the export roots fails the task; an extra root is allowed")
        func exportOutsideRoots() async throws {
            try await ExecutorWorld.with { world in
                try world.write("private", to: "outside.txt")
                try world.write("allowed", to: "extra/report.txt")
                let refused = await world.run([step("mark_file_for_export", "~/outside.txt")])
                #expect(refused.status == .taskFailed)
                let error = try #require(refused.errors.first)
                #expect(error.hasPrefix("step 0 (mark_file_for_export): '~/outside.txt' is outside the folders"))
                #expect(error.contains(world.transfers))
                #expect(await world.environment.exports.isEmpty)

                world.configuration.extraExportRoots = [world.home + "/extra"]
                let allowed = await world.run([step("mark_file_for_export", "~/extra/report.txt")])
                #expect(allowed.status == .success, "\(allowed.errors)")
                #expect(await world.environment.exports.map(\.bytes) == [Array("allowed".utf8)])
            }
        }

        @Test("a symlink in the transfers folder cannot export or write a file outside it")
        func symlinkEscape() async throws {
            try await ExecutorWorld.with { world in
                try world.write("private key", to: "secret.txt")
                try FileManager.default.createDirectory(atPath: world.transfers, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(
                    atPath: world.home + "/outside", withIntermediateDirectories: true)
                try FileManager.default.createSymbolicLink(
                    atPath: world.transfers + "/link.txt", withDestinationPath: world.home + "/secret.txt")
                try FileManager.default.createSymbolicLink(
                    atPath: world.transfers + "/escape", withDestinationPath: world.home + "/outside")

                let export = await world.run([step("mark_file_for_export", "link.txt")], includesFileExports: true)
                #expect(export.status == .taskFailed)
                #expect(export.errors.first?.contains("resolves to \(world.home)/secret.txt") == true)
                #expect(await world.environment.exports.isEmpty)

                let write = await world.run([step("write_file", "escape/x.txt", "x")])
                #expect(write.status == .taskFailed)
                #expect(write.errors.first?.contains("leads outside") == true)
                #expect(!world.exists("outside/x.txt"))
            }
        }
    }
}
