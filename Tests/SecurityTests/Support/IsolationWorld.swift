import ControlPlane
import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// Two organizations with one of everything. The owner (the admin key's organization) has
/// a workflow with a trajectory, a pool, a registered machine holding a running, leased
/// run of a session with a file input, a sensitive input and a screenshot, and a second
/// run waiting for the machine. The other organization has its own key, machine,
/// workflow, pool, and signed links to its own attachment and screenshot.
struct IsolationWorld: Sendable, Placeholders {
    /// The owner's records by placeholder name (`run`, `machine`, …).
    var ids: [String: String]
    /// Everything `fill` replaces: the owner's names and `b.`-prefixed ones of the other.
    var values: [String: String]
    let otherKey: String
    let otherOrganizationID: String
    let otherMachine: TestAgent
    let ownerMachine: TestAgent

    /// The owner's values that must never appear in an answer to the other organization.
    var ownerIDs: [(String, String)] {
        ids.filter { $0.key != "fingerprint" && $0.key != "command" }.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value)
        }
    }

    static func build(_ server: TestServer) async throws -> IsolationWorld {
        var ids: [String: String] = [:]
        ids["fingerprint"] = "fp-owner-\(UUID().uuidString.prefix(8))"
        ids["workflow"] = try await server.workflow()
        let trajectory = try await server.create(
            "/v1/trajectories",
            [
                "workflow_id": .string(ids["workflow"]!), "is_approved": true,
                "trajectory_data": [["func_name": "type", "args": ["{$password}"]]],
                "dimensions": ["width": 1024, "height": 768],
            ])
        ids["trajectory"] = try #require(trajectory["id"]?.stringValue)
        let owner = try await TestAgent.register(
            server, with: server.adminKey, fingerprint: ids["fingerprint"]!, pools: ["billing"])
        ids["machine"] = owner.machineID
        let pools = try await server.get("/v1/pools").json().objectValue?["items"]?.arrayValue ?? []
        ids["pool"] = try #require(pools.first?.objectValue?["id"]?.stringValue)
        let run = try await server.create(
            "/v1/runs",
            [
                "workflow_id": .string(ids["workflow"]!), "machine_id": .string(owner.machineID),
                "start_session": true, "sensitive_input_values": ["password": "owner-secret"],
                "file_inputs": [
                    ["filename": "chart.txt", "content": .string(Data("chart".utf8).base64EncodedString())]
                ],
            ])
        ids["run"] = try #require(run["id"]?.stringValue)
        ids["session"] = try #require(run["session_id"]?.stringValue)
        ids["attachment"] = try #require(run["input_attachment_ids"]?.arrayValue?.first?.stringValue)
        let connection = try await owner.connect()
        ids["connection"] = connection
        #expect(try await owner.offers(connection: connection).contains(ids["run"]!))
        let lease = try await owner.claim(ids["run"]!)
        try await owner.start(ids["run"]!, lease: lease)
        ids["lease"] = lease
        ids["image"] = try await upload(
            image: Array("owner screenshot".utf8), run: ids["run"]!, lease: lease, as: owner)
        let waiting = try await server.create(
            "/v1/runs",
            [
                "workflow_id": .string(ids["workflow"]!), "machine_id": .string(owner.machineID),
                "session_id": .string(ids["session"]!), "sensitive_input_values": ["password": "x"],
            ])
        ids["waiting-run"] = try #require(waiting["id"]?.stringValue)
        ids["command"] = UUID().uuidString.lowercased()
        // Models and prompt images: a configuration with its own key, a provider credential,
        // an uploaded image.
        let model = try await server.create(
            "/v1/model-configurations",
            ["name": "owner model", "provider": "anthropic", "model": "claude", "api_key": "sk-owner-model-key"])
        ids["model"] = try #require(model["id"]?.stringValue)
        let credential = try await server.request(
            .put, "/v1/provider-credentials/anthropic", json: ["api_key": "sk-owner-credential-key"])
        try #require(credential.status == 200, "\(credential)")
        let image = try await uploadPromptImage(promptImage, server, as: .admin)
        ids["prompt-image"] = image.id
        ids["image-path"] = image.path

        // The other organization.
        let (otherRecord, otherKey) = try await server.key(organization: "other")
        let other = Credential.key(otherKey)
        let otherAgent = try await TestAgent.register(server, with: otherKey, fingerprint: "fp-other")
        var values: [String: String] = [:]
        values["b.machine"] = otherAgent.machineID
        values["b.workflow"] = try await server.workflow(as: other)
        values["b.pool"] = try #require(
            try await server.create("/v1/pools", ["name": "theirs"], as: other)["id"]?.stringValue)
        let otherRun = try await server.create(
            "/v1/runs",
            [
                "workflow_id": .string(values["b.workflow"]!), "machine_id": .string(otherAgent.machineID),
                "file_inputs": [["filename": "b.txt", "content": .string(Data("b".utf8).base64EncodedString())]],
            ], as: other)
        let otherRunID = try #require(otherRun["id"]?.stringValue)
        let otherAttachment = try #require(otherRun["input_attachment_ids"]?.arrayValue?.first?.stringValue)
        let link = try await server.get("/v1/run-attachments/\(otherAttachment)/download-url", as: other)
        let attachmentURL = try #require(try link.json().objectValue?["url"]?.stringValue)
        values["b.attachment-link|attachment"] = localPath(attachmentURL, server).replacingOccurrences(
            of: otherAttachment, with: ids["attachment"]!)
        let otherLease = try await otherAgent.take(otherRunID)
        let otherImage = try await upload(
            image: Array("other".utf8), run: otherRunID, lease: otherLease, as: otherAgent)
        let imageLink = try await server.get(
            "/v1/runs/\(otherRunID)/image/signed-url?image_url=\(otherImage)", as: other)
        let imageURL = try #require(try imageLink.json().objectValue?["signed_url"]?.stringValue, "\(imageLink)")
        values["b.image-link|run"] = localPath(imageURL, server).replacingOccurrences(of: otherRunID, with: ids["run"]!)
        let otherPromptImage = try await uploadPromptImage(
            Array(promptImage.prefix(8)) + Array("other".utf8), server, as: other)
        values["b.prompt-image-link|prompt-image"] = localPath(otherPromptImage.link, server).replacingOccurrences(
            of: otherPromptImage.id, with: ids["prompt-image"]!)
        for (name, id) in ids { values[name] = id }
        return IsolationWorld(
            ids: ids, values: values, otherKey: otherKey, otherOrganizationID: otherRecord.organizationID,
            otherMachine: otherAgent, ownerMachine: owner)
    }

    static func upload(image: [UInt8], run: String, lease: String, as agent: TestAgent) async throws -> String {
        let response = try await agent.request(
            .post, "/v1/agent/runs/\(run)/images", bytes: image,
            headers: ["X-Lease-Token": lease, "Content-Type": "image/png"])
        try #require(response.status == 200, "\(response)")
        return try #require(try response.json().objectValue?["id"]?.stringValue)
    }

    /// The owner's prompt image: a PNG signature is all the server checks.
    static let promptImage: [UInt8] =
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array("owner prompt image".utf8)

    static func multipart(_ content: [UInt8]) -> (body: [UInt8], contentType: String) {
        let boundary = "isolation-boundary"
        let head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n\r\n"
        return (
            Array(head.utf8) + content + Array("\r\n--\(boundary)--\r\n".utf8),
            "multipart/form-data; boundary=\(boundary)"
        )
    }

    static func uploadPromptImage(_ content: [UInt8], _ server: TestServer, as credential: Credential) async throws
        -> (id: String, path: String, link: String)
    {
        let form = multipart(content)
        let response = try await server.request(
            .post, "/v1/workflows/prompt-image", as: credential, bytes: form.body,
            headers: ["Content-Type": form.contentType])
        try #require(response.status == 201, "\(response)")
        let answer = try #require(try response.json().objectValue)
        let link = try #require(answer["signed_url"]?.stringValue)
        let id = try #require(link.split(separator: "?").first?.split(separator: "/").last.map(String.init))
        return (id, try #require(answer["path"]?.stringValue), link)
    }

    static func localPath(_ url: String, _ server: TestServer) -> String {
        String(url.dropFirst("http://127.0.0.1:\(server.port)".count))
    }

}
