import ControlPlane
import CyberdeskAPI
import Foundation
import HTTPTypes
import ServerTestSupport
import Testing

/// What each credential reaches (SECURITY.md, "Credentials"): a machine credential only its
/// own machine's runs, commands, secrets and attachments; API keys and machine credentials
/// never stand in for each other; revocation and deletion act on the next request;
/// registration tokens work once; secrets are released only inside a running, leased run.
@Suite("Credentials and access control")
struct CredentialTests {
    /// A workflow whose trajectory types `{$password}`, and a run of it pinned to `machine`.
    static func secretRun(_ server: TestServer, machine: String, secret: String = "hunter2-xyzzy") async throws
        -> String
    {
        let workflowID = try await server.workflow()
        _ = try await server.create(
            "/v1/trajectories",
            [
                "workflow_id": .string(workflowID), "is_approved": true,
                "trajectory_data": [["func_name": "type", "args": ["{$password}"]]],
                "dimensions": ["width": 1024, "height": 768],
            ])
        let run = try await server.create(
            "/v1/runs",
            [
                "workflow_id": .string(workflowID), "machine_id": .string(machine),
                "sensitive_input_values": ["password": .string(secret)],
                "file_inputs": [["filename": "in.txt", "content": .string(Data("in".utf8).base64EncodedString())]],
            ])
        return try #require(run["id"]?.stringValue)
    }

    @Test("a machine reaches only its own runs, secrets, attachments and commands")
    func machinesAreSeparated() async throws {
        try await TestServer.with { server in
            let first = try await TestAgent.register(server, with: server.adminKey, fingerprint: "first")
            let second = try await TestAgent.register(server, with: server.adminKey, fingerprint: "second")
            let runID = try await Self.secretRun(server, machine: first.machineID)
            let lease = try await first.take(runID)
            let attachmentID = try #require(
                try await server.get("/v1/runs/\(runID)").json().objectValue?["input_attachment_ids"]?.arrayValue?
                    .first?.stringValue)
            let secondConnection = try await second.connect()
            #expect(try await second.offers(connection: secondConnection).isEmpty, "no offer of another's run")
            let before = try await StoreSnapshot.take(server)

            // Even holding the first machine's lease token, the second machine sees nothing.
            let leaseBody: JSONValue = ["lease_token": .string(lease)]
            let attempts: [(HTTPRequest.Method, String, JSONValue?)] = [
                (.post, "/v1/agent/runs/\(runID)/claim", nil),
                (.post, "/v1/agent/runs/\(runID)/start", leaseBody),
                (.post, "/v1/agent/runs/\(runID)/heartbeat", leaseBody),
                (.post, "/v1/agent/runs/\(runID)/secrets/password", leaseBody),
                (.post, "/v1/agent/runs/\(runID)/events", ["lease_token": .string(lease), "events": [["x": 1]]]),
                (.post, "/v1/agent/runs/\(runID)/complete", ["lease_token": .string(lease), "status": "error"]),
                (.get, "/v1/agent/attachments/\(attachmentID)/content", nil),
            ]
            for (method, path, body) in attempts {
                let response = try await second.request(method, path, json: body)
                #expect(response.status == 404, "\(method) \(path): \(response)")
                #expect(!response.text.contains("hunter2"), "\(response)")
            }
            for upload in ["images", "attachments?filename=x.txt"] {
                let response = try await second.request(
                    .post, "/v1/agent/runs/\(runID)/\(upload)", bytes: Array("x".utf8),
                    headers: ["X-Lease-Token": lease])
                #expect(response.status == 404, "\(upload): \(response)")
            }
            let after = try await StoreSnapshot.take(server)
            // The second machine's polls may touch its own row and connection; nothing else.
            let changed = after.difference(from: before).split(separator: "\n").filter {
                !$0.contains(second.machineID)
            }
            #expect(changed.isEmpty, "\(changed.joined(separator: "\n"))")

            // The owner still can.
            let secret = try await first.request(.post, "/v1/agent/runs/\(runID)/secrets/password", json: leaseBody)
            #expect(secret.status == 200 && secret.text.contains("hunter2-xyzzy"), "\(secret)")
            let content = try await first.request(.get, "/v1/agent/attachments/\(attachmentID)/content")
            #expect(content.status == 200 && content.body == Array("in".utf8), "\(content)")

            // A command for the first machine cannot be answered by the second.
            let firstConnection = try await first.connect()
            async let relayed = server.get("/v1/computer/\(first.machineID)/display/dimensions")
            var commandID: String?
            for _ in 0..<200 where commandID == nil {
                let poll = try await first.request(.get, "/v1/agent/poll?connection_id=\(firstConnection)&wait=1")
                let messages = (try? poll.json().objectValue?["messages"]?.arrayValue) ?? []
                commandID =
                    messages.compactMap { $0.objectValue?["command"]?.objectValue?["command_id"]?.stringValue }
                    .first
            }
            let command = try #require(commandID)
            let stolen = try await second.request(
                .post, "/v1/agent/commands/\(command)/result", json: ["width": 1, "height": 1])
            #expect(stolen.status == 404, "\(stolen)")
            let answered = try await first.request(
                .post, "/v1/agent/commands/\(command)/result", json: ["width": 640, "height": 480])
            #expect(answered.status == 204, "\(answered)")
            let result = try await relayed
            let width = try result.json().objectValue?["width"]
            #expect(result.status == 200 && width == 640, "\(result)")
        }
    }

    @Test("an API key cannot act as a machine, and machine or registration credentials cannot use the public API")
    func credentialsDoNotStandInForEachOther() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let (_, token) = try await KeyAdmin(store: server.store, now: server.clock.function).createToken(
                organization: "default", pools: [], ttl: 3600)
            let runID = try await Self.secretRun(server, machine: agent.machineID)
            let before = try await StoreSnapshot.take(server)

            for key in [server.adminKey, token] {
                for (method, path) in [
                    (HTTPRequest.Method.post, "/v1/agent/connect"), (.get, "/v1/agent/poll?connection_id=\(runID)"),
                    (.post, "/v1/agent/runs/\(runID)/claim"), (.post, "/v1/agent/disconnect"),
                ] {
                    let response = try await server.request(method, path, as: .key(key))
                    #expect(response.status == 401, "\(key.prefix(4)) \(method) \(path): \(response)")
                }
            }
            for key in [agent.token, token] {
                for (method, path) in [
                    (HTTPRequest.Method.get, "/v1/workflows"), (.get, "/v1/runs/\(runID)"), (.post, "/v1/workflows"),
                    (.get, "/v1/computer/\(agent.machineID)/display/dimensions"),
                ] {
                    let response = try await server.request(
                        method, path, as: .key(key), json: method == .post ? ["main_prompt": "x"] : nil)
                    #expect(response.status == 401, "\(key.prefix(4)) \(method) \(path): \(response)")
                }
            }
            // A machine credential cannot enroll more machines.
            let enroll = try await server.post("/v1/agent/register", ["fingerprint": "new"], as: agent.credential)
            #expect(enroll.status == 401, "\(enroll)")
            let after = try await StoreSnapshot.take(server)
            #expect(after == before, "\(after.difference(from: before))")
        }
    }

    @Test("a revoked API key and a deleted machine are refused from the next request on")
    func revocationIsImmediate() async throws {
        try await TestServer.with { server in
            let admin = KeyAdmin(store: server.store, now: server.clock.function)
            let (record, key) = try await server.key(organization: "default", name: "ci")
            let agent = try await TestAgent.register(server, with: key)
            #expect(try await server.get("/v1/workflows", as: .key(key)).status == 200)
            _ = try await admin.revokeKey(record.prefix)
            #expect(try await server.get("/v1/workflows", as: .key(key)).status == 401)
            let again = try await server.post("/v1/agent/register", ["fingerprint": "later"], as: .key(key))
            #expect(again.status == 401, "a revoked key cannot enroll: \(again)")
            // Machines enrolled with it keep their own credential.
            #expect(try await agent.request(.post, "/v1/agent/connect", json: [:]).status == 200)

            let runID = try await Self.secretRun(server, machine: agent.machineID)
            let lease = try await agent.take(runID)
            #expect(try await server.request(.delete, "/v1/machines/\(agent.machineID)").status == 204)
            let leaseBody: JSONValue = ["lease_token": .string(lease)]
            for (method, path, body) in [
                (HTTPRequest.Method.post, "/v1/agent/connect", JSONValue?.none),
                (.post, "/v1/agent/runs/\(runID)/secrets/password", leaseBody),
                (.post, "/v1/agent/runs/\(runID)/heartbeat", leaseBody),
            ] {
                let response = try await agent.request(method, path, json: body)
                #expect(response.status == 401, "\(path): \(response)")
                #expect(response.detail?.contains("cyberdesk-agent join") == true, "\(response)")
            }
            // Joining again with the same fingerprint gives a new credential; the old stays refused.
            let rejoined = try await TestAgent.register(server, with: server.adminKey, fingerprint: "again")
            #expect(rejoined.token != agent.token)
            #expect(try await agent.request(.post, "/v1/agent/connect", json: [:]).status == 401)
        }
    }

    @Test("registering a machine again replaces its credential: the old one is refused, the machine is the same")
    func reregistrationReplacesTheCredential() async throws {
        try await TestServer.with { server in
            let first = try await TestAgent.register(server, with: server.adminKey, fingerprint: "golden-image")
            #expect(try await first.request(.post, "/v1/agent/connect", json: [:]).status == 200)
            let again = try await TestAgent.register(server, with: server.adminKey, fingerprint: "golden-image")
            #expect(again.machineID == first.machineID)
            #expect(again.token != first.token)
            let stale = try await first.request(.post, "/v1/agent/connect", json: [:])
            #expect(stale.status == 401, "\(stale)")
            #expect(try await again.request(.post, "/v1/agent/connect", json: [:]).status == 200)
        }
    }

    @Test("a registration token works once, until it expires, and only for its organization")
    func registrationTokens() async throws {
        try await TestServer.with { server in
            let admin = KeyAdmin(store: server.store, now: server.clock.function)
            _ = try await server.key(organization: "other")
            let (_, token) = try await admin.createToken(organization: "other", pools: ["night"], ttl: 600)
            let agent = try await TestAgent.register(server, with: token, fingerprint: "desk-1")
            let machine = try await server.get("/v1/machines/\(agent.machineID)")
            #expect(machine.status == 404, "the token's machine is in its organization, not the admin's")

            let (_, late) = try await admin.createToken(organization: "other", pools: [], ttl: 60)
            let before = try await StoreSnapshot.take(server)
            let replay = try await server.post("/v1/agent/register", ["fingerprint": "desk-2"], as: .key(token))
            #expect(replay.status == 401, "\(replay)")
            #expect(replay.detail?.contains("tokens create") == true, "\(replay)")
            let sameMachine = try await server.post("/v1/agent/register", ["fingerprint": "desk-1"], as: .key(token))
            #expect(sameMachine.status == 401, "a replay cannot mint a new credential for the machine: \(sameMachine)")

            server.clock.advance(by: 61)
            let expired = try await server.post("/v1/agent/register", ["fingerprint": "desk-3"], as: .key(late))
            #expect(expired.status == 401, "\(expired)")
            let forged = try await server.post(
                "/v1/agent/register", ["fingerprint": "desk-4"], as: .key("cdt_" + String(repeating: "A", count: 43)))
            #expect(forged.status == 401, "\(forged)")
            let after = try await StoreSnapshot.take(server)
            #expect(after == before, "\(after.difference(from: before))")
            #expect(try await agent.request(.post, "/v1/agent/connect", json: [:]).status == 200)
        }
    }

    @Test("secrets are released only for a running run, with its lease, by name")
    func secretsNeedARunningLease() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let runID = try await Self.secretRun(server, machine: agent.machineID)
            let path = "/v1/agent/runs/\(runID)/secrets/password"
            let connection = try await agent.connect()
            #expect(try await agent.offers(connection: connection) == [runID])

            let unclaimed = try await agent.request(.post, path, json: ["lease_token": "lease_guess"])
            #expect(unclaimed.status == 409, "offered, not claimed: \(unclaimed)")
            let lease = try await agent.claim(runID)
            let notStarted = try await agent.request(.post, path, json: ["lease_token": .string(lease)])
            #expect(notStarted.status == 409, "claimed, not started: \(notStarted)")
            try await agent.start(runID, lease: lease)
            let wrongLease = try await agent.request(.post, path, json: ["lease_token": .string(lease + "x")])
            #expect(wrongLease.status == 409, "\(wrongLease)")
            let noLease = try await agent.request(.post, path, json: [:])
            #expect(noLease.status == 422, "\(noLease)")
            let unknown = try await agent.request(
                .post, "/v1/agent/runs/\(runID)/secrets/other", json: ["lease_token": .string(lease)])
            #expect(unknown.status == 404, "\(unknown)")
            let granted = try await agent.request(.post, path, json: ["lease_token": .string(lease)])
            #expect(granted.status == 200 && granted.text.contains("hunter2-xyzzy"), "\(granted)")
            #expect(server.logs.all.contains { $0.contains("secret released") && $0.contains("secret.name=password") })

            try await agent.complete(runID, lease: lease)
            let finished = try await agent.request(.post, path, json: ["lease_token": .string(lease)])
            #expect((400..<500).contains(finished.status), "finished: \(finished)")
            #expect(!finished.text.contains("hunter2"))
            let snapshot = try await StoreSnapshot.take(server)
            #expect(snapshot.tables["vault_secrets"]?.isEmpty == true, "the vault is emptied when the run ends")
            #expect(!server.logs.all.joined().contains("hunter2"), "the value is never logged")
        }
    }
}
