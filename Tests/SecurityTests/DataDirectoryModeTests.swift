import ControlPlane
import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// Local users of the server's host: everything the server writes under its data dir is
/// private to its user, even when the data dir itself was created beforehand with a
/// looser mode (`mkdir data`, mode 0755, as the test's temporary directory is).
@Suite("Data directory modes")
struct DataDirectoryModeTests {
    @Test("every file the server writes is 0600 and every directory it creates 0700")
    func privateModes() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            let file = Data("patient chart".utf8).base64EncodedString()
            _ = try await server.create(
                "/v1/runs",
                [
                    "workflow_id": .string(workflowID), "sensitive_input_values": ["password": "x"],
                    "file_inputs": [["filename": "chart.txt", "content": .string(file)]],
                ])
            let root = server.dataDirectory.path
            var checked = 0
            for relative in FileManager.default.subpaths(atPath: root) ?? [] {
                let attributes = try FileManager.default.attributesOfItem(atPath: root + "/" + relative)
                let mode = (attributes[.posixPermissions] as? Int ?? 0o777) & 0o777
                let isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
                #expect(mode == (isDirectory ? 0o700 : 0o600), "\(relative) has mode \(String(mode, radix: 8))")
                checked += 1
            }
            let names = FileManager.default.subpaths(atPath: root) ?? []
            for expected in [
                "cyberdesk.sqlite", "cyberdesk.sqlite-wal", "vault.key", "url-signing.key", "admin-api-key",
            ] {
                #expect(names.contains(expected), "\(expected) among \(names)")
            }
            #expect(checked >= 7)
        }
    }
}
