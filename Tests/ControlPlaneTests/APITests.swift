import ControlPlane
import CyberdeskAPI
import Foundation
import Hummingbird
import ServerTestSupport
import Testing

/// The HTTP API as the SDK sees it: the real application on an ephemeral port, real
/// requests, and only what comes back over the wire is asserted (plus the store and the
/// data directory where the contract is about what is kept).
@Suite("HTTP API")
struct APITests {
    // MARK: Health and authentication

    @Test("health answers without a key", arguments: ["/health", "/v1/health", "/v1/health/db"])
    func health(path: String) async throws {
        try await TestServer.with { server in
            let response = try await server.get(path, as: .none)
            #expect(response.status == 200)
            #expect(try response.json().objectValue?["status"] == "ok")
        }
    }

    enum BadCredential: String, CaseIterable, Sendable {
        case missing, wrongKey, notBearer, revokedKey
    }

    @Test("a request without a valid key is 401 with a detail", arguments: BadCredential.allCases)
    func unauthorized(credential: BadCredential) async throws {
        try await TestServer.with { server in
            let presented: Credential
            switch credential {
            case .missing: presented = .none
            case .wrongKey: presented = .key("cdk_" + String(repeating: "x", count: 43))
            case .notBearer: presented = .header("Basic \(server.adminKey)")
            case .revokedKey:
                let (record, key) = try await server.key(organization: "default", name: "temporary")
                #expect(try await server.get("/v1/workflows", as: .key(key)).status == 200)
                _ = try await KeyAdmin(store: server.store).revokeKey(record.id)
                presented = .key(key)
            }
            for (method, path) in [(HTTPRequest.Method.get, "/v1/workflows"), (.post, "/v1/runs")] {
                let response = try await server.request(method, path, as: presented, json: method == .post ? [:] : nil)
                #expect(response.status == 401, "\(method) \(path): \(response)")
                #expect(response.detail?.isEmpty == false, "\(response)")
            }
            #expect(try await server.get("/v1/workflows").status == 200, "the admin key still works")
        }
    }

    @Test("another organization's workflow, run, machine and pool are 404")
    func otherOrganizationIsNotFound() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            let machine = try await server.create(
                "/v1/machines", ["fingerprint": "fp-1", "unkey_key_id": "unkey-1", "name": "desk"])
            let machineID = try #require(machine["id"]?.stringValue)
            let pool = try await server.create("/v1/pools", ["name": "billing"])
            let poolID = try #require(pool["id"]?.stringValue)
            let run = try await server.create("/v1/runs", ["workflow_id": .string(workflowID)])
            let runID = try #require(run["id"]?.stringValue)
            let other = Credential.key(try await server.key(organization: "other").key)

            let resources: [(path: String, patch: JSONValue)] = [
                ("/v1/workflows/\(workflowID)", ["name": "stolen"]),
                ("/v1/runs/\(runID)", ["status": "cancelled"]),
                ("/v1/machines/\(machineID)", ["name": "stolen"]),
                ("/v1/pools/\(poolID)", ["name": "stolen"]),
            ]
            for resource in resources {
                let attempts: [(HTTPRequest.Method, JSONValue?)] = [
                    (.get, nil), (.patch, resource.patch), (.delete, nil),
                ]
                for (method, body) in attempts {
                    let response = try await server.request(method, resource.path, as: other, json: body)
                    #expect(response.status == 404, "\(method) \(resource.path): \(response)")
                    #expect(response.detail?.contains("not found") == true, "\(response)")
                }
                let own = try await server.get(resource.path)
                #expect(own.status == 200, "\(resource.path): \(own)")
                #expect(own.text.contains("stolen") == false)
            }
            #expect(try await server.get("/v1/runs/\(runID)").json().objectValue?["status"] == "scheduling")

            for list in ["/v1/workflows", "/v1/runs", "/v1/machines", "/v1/pools"] {
                let page = try await server.get(list, as: other).json().objectValue
                #expect(page?["total"] == 0, "\(list)")
                #expect(try await server.get(list).json().objectValue?["total"] == 1, "\(list)")
            }

            // Nor can another organization refer to them.
            let foreignRun = try await server.post("/v1/runs", ["workflow_id": .string(workflowID)], as: other)
            #expect(foreignRun.status == 404, "\(foreignRun)")
            let otherPool = try await server.create("/v1/pools", ["name": "theirs"], as: other)
            let otherPoolID = try #require(otherPool["id"]?.stringValue)
            let adopt = try await server.post(
                "/v1/pools/\(otherPoolID)/machines", ["machine_ids": [.string(machineID)]], as: other)
            #expect(adopt.status == 404, "\(adopt)")
        }
    }

    // MARK: Malformed requests

    struct ValidationCase: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var loc: [JSONValue]
        var type: String

        var testDescription: String { name }
    }

    static let validationCases = [
        ValidationCase(
            name: "wrong type", method: .post, path: "/v1/workflows", body: #"{"main_prompt": 5}"#,
            loc: ["body", "main_prompt"], type: "string_type"),
        ValidationCase(
            name: "missing field", method: .post, path: "/v1/workflows", body: #"{"name": "no prompt"}"#,
            loc: ["body", "main_prompt"], type: "missing"),
        ValidationCase(
            name: "malformed JSON", method: .post, path: "/v1/workflows", body: #"{"main_prompt": "#, loc: ["body"],
            type: "json_invalid"),
        ValidationCase(
            name: "empty body", method: .post, path: "/v1/workflows", body: nil, loc: ["body"], type: "missing"),
        ValidationCase(
            name: "non-UUID path id", method: .get, path: "/v1/workflows/not-a-uuid", body: nil, loc: ["path", "id"],
            type: "uuid_parsing"),
        ValidationCase(
            name: "non-UUID id in the body", method: .post, path: "/v1/runs", body: #"{"workflow_id": "42"}"#,
            loc: ["body", "workflow_id"], type: "uuid_parsing"),
        ValidationCase(
            name: "query above its range", method: .get, path: "/v1/runs?limit=5000", body: nil,
            loc: ["query", "limit"], type: "less_than_equal"),
        ValidationCase(
            name: "query below its range", method: .get, path: "/v1/runs?limit=0", body: nil, loc: ["query", "limit"],
            type: "greater_than_equal"),
    ]

    @Test("GET /v1/machines?fields= answers only those fields and id; a bad field name is 422")
    func machineFields() async throws {
        try await TestServer.with { server in
            let named = try await server.create(
                "/v1/machines",
                ["fingerprint": "fp-1", "unkey_key_id": "unkey-1", "name": "desk", "hostname": "clinic-1",
                 "machine_parameters": ["region": "eu"]])
            let unnamed = try await server.create(
                "/v1/machines", ["fingerprint": "fp-2", "unkey_key_id": "unkey-2", "hostname": "clinic-2"])
            // Both were created within the same instant, so their order is not asserted.
            func items(_ path: String) async throws -> [String: JSONObject] {
                let page = try await server.get(path).json()
                #expect(page.objectValue?["total"] == 2)
                var byID: [String: JSONObject] = [:]
                for case .object(let item) in page.objectValue?["items"]?.arrayValue ?? [] {
                    byID[item["id"]?.stringValue ?? ""] = item
                }
                return byID
            }
            let columns = try await items("/v1/machines?fields=name,hostname,status")
            let second = try #require(columns[unnamed["id"]?.stringValue ?? ""])
            #expect(Set(second.keys) == ["id", "name", "hostname", "status"])
            #expect(second["hostname"] == "clinic-2" && second["name"] == .null && second["status"] == "disconnected")
            #expect(columns[named["id"]?.stringValue ?? ""]?["name"] == "desk")
            let documents = try await items("/v1/machines?fields=machine_parameters")
            let first = try #require(documents[named["id"]?.stringValue ?? ""])
            #expect(Set(first.keys) == ["id", "machine_parameters"])
            #expect(first["machine_parameters"] == ["region": "eu"])
            let bad = try await server.get("/v1/machines?fields=name,na%22me")
            #expect(bad.status == 422)
            #expect(try bad.json().compactJSON.contains("is not a field name"))
        }
    }

    @Test("malformed requests are 422 in FastAPI's shape", arguments: validationCases)
    func validationErrors(testCase: ValidationCase) async throws {
        try await TestServer.with { server in
            let response = try await server.request(
                testCase.method, testCase.path, bytes: testCase.body.map { Array($0.utf8) })
            #expect(response.status == 422, "\(response)")
            // The SDK parses this into HTTPValidationError: a list of {loc, msg, type}.
            let detail = try #require(try response.json().objectValue?["detail"]?.arrayValue)
            let first = try #require(detail.first?.objectValue)
            #expect(Set(first.keys).isSuperset(of: ["loc", "msg", "type"]))
            #expect(first["loc"] == .array(testCase.loc))
            do {
                #expect(first["type"] == .string(testCase.type))
            }
            #expect(first["msg"]?.stringValue?.isEmpty == false)
        }
    }

    @Test("a body over the limit is 413 and creates nothing")
    func bodyTooLarge() async throws {
        try await TestServer.with(limits: .init(maxBodyBytes: 4096, maxFileBytes: 16)) { server in
            let large = try await server.post(
                "/v1/workflows", ["main_prompt": .string(String(repeating: "x", count: 10_000))])
            #expect(large.status == 413, "\(large)")
            #expect(large.detail?.isEmpty == false)
            let small = try await server.post("/v1/workflows", ["main_prompt": "small"])
            #expect(small.status == 201, "\(small)")
            #expect(try await server.get("/v1/workflows").json().objectValue?["total"] == 1)

            // A file over its own limit inside a body under the limit is 413 too.
            let workflowID = try #require(try small.json().objectValue?["id"]?.stringValue)
            let file = Data(repeating: 65, count: 100).base64EncodedString()
            let run = try await server.post(
                "/v1/runs",
                [
                    "workflow_id": .string(workflowID),
                    "file_inputs": [["filename": "big.bin", "content": .string(file)]],
                ])
            #expect(run.status == 413, "\(run)")
            #expect(run.detail?.contains("big.bin") == true)
            #expect(try await server.get("/v1/runs").json().objectValue?["total"] == 0)
        }
    }

    // MARK: Idempotency

    @Test("the same Idempotency-Key replays the first response byte for byte and creates one resource")
    func idempotentReplay() async throws {
        try await TestServer.with { server in
            let key = UUID().uuidString
            let body: JSONValue = ["main_prompt": "Export the report", "name": "export"]
            let first = try await server.request(.post, "/v1/workflows", json: body, headers: ["Idempotency-Key": key])
            #expect(first.status == 201, "\(first)")
            server.clock.advance(by: 5)
            let second = try await server.request(.post, "/v1/workflows", json: body, headers: ["Idempotency-Key": key])
            #expect(second.status == 201)
            #expect(second.body == first.body)
            #expect(second.header("Idempotency-Replayed") == "true")
            #expect(try await server.get("/v1/workflows").json().objectValue?["total"] == 1)

            // The same key for another request is refused, not replayed.
            let elsewhere = try await server.request(
                .post, "/v1/pools", json: ["name": "billing"], headers: ["Idempotency-Key": key])
            #expect(elsewhere.status == 400, "\(elsewhere)")
            #expect(elsewhere.detail?.contains(key) == true)
            #expect(try await server.get("/v1/pools").json().objectValue?["total"] == 0)

            // Keys belong to an organization: another one using the same key gets its own resource.
            let other = Credential.key(try await server.key(organization: "other").key)
            let theirs = try await server.request(
                .post, "/v1/workflows", as: other, json: body, headers: ["Idempotency-Key": key])
            #expect(theirs.status == 201)
            #expect(theirs.body != first.body)
            #expect(try await server.get("/v1/workflows", as: other).json().objectValue?["total"] == 1)
        }
    }

    @Test("a key whose first request is still running is 409 in_progress until it goes stale")
    func idempotencyInProgress() async throws {
        try await TestServer.with { server in
            let organizationID = try #require(
                try await server.store.transaction { try await $0.apiKey(hash: Credentials.hash(server.adminKey)) }?
                    .organizationID)
            let key = UUID().uuidString
            let inFlight = IdempotencyEntry(
                organizationID: organizationID, key: key, method: "POST", path: "/v1/workflows",
                createdAt: server.clock.now)
            #expect(try await server.store.transaction { try await $0.beginIdempotentRequest(inFlight) } == nil)

            let body: JSONValue = ["main_prompt": "Export the report"]
            let busy = try await server.request(.post, "/v1/workflows", json: body, headers: ["Idempotency-Key": key])
            #expect(busy.status == 409, "\(busy)")
            #expect(busy.header("Idempotency-Status") == "in_progress")
            #expect(try await server.get("/v1/workflows").json().objectValue?["total"] == 0)

            // A request that never finished (its server died) is taken over after a minute.
            server.clock.advance(by: 61)
            let retried = try await server.request(
                .post, "/v1/workflows", json: body, headers: ["Idempotency-Key": key])
            #expect(retried.status == 201, "\(retried)")
            let replayed = try await server.request(
                .post, "/v1/workflows", json: body, headers: ["Idempotency-Key": key])
            #expect(replayed.body == retried.body)
            #expect(try await server.get("/v1/workflows").json().objectValue?["total"] == 1)
        }
    }

    // MARK: Deletes

    @Test("every delete answers 204 with an empty body, replays included")
    func deletesAreEmpty() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            let trajectory = try await server.create(
                "/v1/trajectories",
                [
                    "workflow_id": .string(workflowID), "trajectory_data": [["func_name": "screenshot"]],
                    "dimensions": ["width": 1024, "height": 768],
                ])
            let machine = try await server.create("/v1/machines", ["fingerprint": "fp-1", "unkey_key_id": "unkey-1"])
            let machineID = try #require(machine["id"]?.stringValue)
            let pool = try await server.create("/v1/pools", ["name": "billing"])
            let poolID = try #require(pool["id"]?.stringValue)
            let members = try await server.post("/v1/pools/\(poolID)/machines", ["machine_ids": [.string(machineID)]])
            #expect(members.status == 200, "\(members)")
            let connection = try await server.create(
                "/v1/connections", ["websocket_id": "ws-1", "machine_id": .string(machineID)])
            let run = try await server.create(
                "/v1/runs",
                [
                    "workflow_id": .string(workflowID),
                    "file_inputs": [["filename": "in.txt", "content": .string(Data("hi".utf8).base64EncodedString())]],
                ])
            let attachmentID = try #require(run["input_attachment_ids"]?.arrayValue?.first?.stringValue)

            let deletes: [(path: String, body: JSONValue?)] = [
                ("/v1/pools/\(poolID)/machines", ["machine_ids": [.string(machineID)]]),
                ("/v1/run-attachments/\(attachmentID)", nil),
                ("/v1/runs/\(try #require(run["id"]?.stringValue))", nil),
                ("/v1/connections/\(try #require(connection["id"]?.stringValue))", nil),
                ("/v1/trajectories/\(try #require(trajectory["id"]?.stringValue))", nil),
                ("/v1/machines/\(machineID)", nil),
                ("/v1/pools/\(poolID)", nil),
                ("/v1/workflows/\(workflowID)", nil),
            ]
            for delete in deletes {
                let key = UUID().uuidString
                let response = try await server.request(
                    .delete, delete.path, json: delete.body, headers: ["Idempotency-Key": key])
                #expect(response.status == 204, "DELETE \(delete.path): \(response)")
                #expect(response.body.isEmpty, "DELETE \(delete.path)")
                let replay = try await server.request(
                    .delete, delete.path, json: delete.body, headers: ["Idempotency-Key": key])
                #expect(replay.status == 204, "replayed DELETE \(delete.path): \(replay)")
                #expect(replay.body.isEmpty)
                #expect(replay.header("Idempotency-Replayed") == "true")
            }
            for gone in deletes.dropFirst() {
                #expect(try await server.get(gone.path).status == 404, "\(gone.path)")
            }
        }
    }

    // MARK: Runs

    @Test("sensitive inputs come back as aliases only")
    func sensitiveAliases() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            let response = try await server.post(
                "/v1/runs",
                [
                    "workflow_id": .string(workflowID), "input_values": ["patient": "Ada"],
                    "sensitive_input_values": ["password": "Tr0ub4dor&3", "db": ["user": "sa-admin-77"]],
                ])
            #expect(response.status == 201, "\(response)")
            #expect(!response.text.contains("Tr0ub4dor&3"))
            #expect(!response.text.contains("sa-admin-77"))
            let run = try #require(try response.json().objectValue)
            let aliases = try #require(run["sensitive_input_aliases"]?.objectValue)
            #expect(aliases["password"]?.stringValue?.hasPrefix("vault:") == true)
            #expect(aliases["db"]?.objectValue?["user"]?.stringValue?.hasPrefix("vault:") == true)
            #expect(run["input_values"] == ["patient": "Ada"])

            let fetched = try await server.get("/v1/runs/\(try #require(run["id"]?.stringValue))")
            #expect(try fetched.json().objectValue?["sensitive_input_aliases"] == .object(aliases))
            #expect(!fetched.text.contains("Tr0ub4dor&3"))
        }
    }

    @Test("a trajectory that types {$password} needs the secret: 400 naming it otherwise")
    func missingSensitiveInput() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            _ = try await server.create(
                "/v1/trajectories",
                [
                    "workflow_id": .string(workflowID), "is_approved": true,
                    "trajectory_data": [
                        ["func_name": "click", "args": [10, 20]], ["func_name": "type", "args": ["{$password}"]],
                    ],
                    "dimensions": ["width": 1024, "height": 768],
                ])
            let without = try await server.post("/v1/runs", ["workflow_id": .string(workflowID)])
            #expect(without.status == 400, "\(without)")
            #expect(without.detail?.contains("{$password}") == true, "\(without)")
            #expect(without.detail?.contains("'password'") == true, "\(without)")

            let wrongName = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "sensitive_input_values": ["pin": "1234"]])
            #expect(wrongName.status == 400, "\(wrongName)")

            let with = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "sensitive_input_values": ["password": "pw"]])
            #expect(with.status == 201, "\(with)")
            #expect(try await server.get("/v1/runs").json().objectValue?["total"] == 1)
        }
    }

    @Test("inputs that break the workflow's input_schema are 400 with the reason")
    func schemaViolation() async throws {
        try await TestServer.with { server in
            let schema = #"""
                {"type": "object", "required": ["patient_id"],
                 "properties": {"patient_id": {"type": "string", "pattern": "^P-[0-9]+$"}, "age": {"maximum": 150}}}
                """#
            let workflowID = try await server.workflow(["input_schema": .string(schema)])
            let cases: [(JSONObject, String)] = [
                (["age": 30], "patient_id"),
                (["patient_id": 5], "/patient_id"),
                (["patient_id": "X-1"], "pattern"),
                (["patient_id": "P-1", "age": 212], "/age"),
            ]
            for (inputs, mention) in cases {
                let response = try await server.post(
                    "/v1/runs", ["workflow_id": .string(workflowID), "input_values": .object(inputs)])
                #expect(response.status == 400, "\(inputs): \(response)")
                #expect(response.detail?.contains("input_schema") == true, "\(response)")
                #expect(response.detail?.contains(mention) == true, "\(inputs): \(response)")
            }
            let valid = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "input_values": ["patient_id": "P-17", "age": 40]])
            #expect(valid.status == 201, "\(valid)")
            #expect(try await server.get("/v1/runs").json().objectValue?["total"] == 1)
        }
    }

    // MARK: Attachments

    @Test("a signed download URL works without a key until it expires and fails when tampered with")
    func signedDownload() async throws {
        try await TestServer.with { server in
            let content = Array("hello attachment ✓\n".utf8)
            let workflowID = try await server.workflow()
            let run = try await server.create(
                "/v1/runs",
                [
                    "workflow_id": .string(workflowID),
                    "file_inputs": [
                        ["filename": "report.txt", "content": .string(Data(content).base64EncodedString())]
                    ],
                ])
            let attachmentID = try #require(run["input_attachment_ids"]?.arrayValue?.first?.stringValue)

            let signed = try await server.get("/v1/run-attachments/\(attachmentID)/download-url?expires_in=60")
            #expect(signed.status == 200, "\(signed)")
            let answer = try #require(try signed.json().objectValue)
            #expect(answer["expires_in"] == 60)
            let url = try #require(answer["url"]?.stringValue)
            let origin = "http://127.0.0.1:\(server.port)"
            try #require(url.hasPrefix(origin + "/v1/run-attachments/\(attachmentID)/download?"), "\(url)")
            let path = String(url.dropFirst(origin.count))

            let download = try await server.get(path, as: .none)
            #expect(download.status == 200, "\(download)")
            #expect(download.body == content)
            #expect(download.header("Content-Disposition")?.hasPrefix("attachment") == true)
            #expect(download.header("Content-Disposition")?.contains("report.txt") == true)

            let query = try #require(URLComponents(string: url)?.queryItems)
            let expires = try #require(query.first { $0.name == "expires" }?.value)
            let signature = try #require(query.first { $0.name == "signature" }?.value)
            let base = "/v1/run-attachments/\(attachmentID)/download"
            let flipped = String(signature.dropLast()) + (signature.last == "A" ? "B" : "A")
            let tampered = [
                "\(base)?expires=\(expires)&signature=\(flipped)",
                "\(base)?expires=\(Int(expires)! + 3600)&signature=\(signature)",
                "\(base)?expires=\(expires)&signature=",
                "/v1/run-attachments/\(UUID().uuidString.lowercased())/download?expires=\(expires)&signature=\(signature)",
            ]
            for attempt in tampered {
                let response = try await server.get(attempt, as: .none)
                #expect((400..<500).contains(response.status), "\(attempt): \(response)")
                #expect(response.body != content)
            }
            #expect(try await server.get(base, as: .none).status == 401, "no signature and no key")

            server.clock.advance(by: 61)
            let expired = try await server.get(path, as: .none)
            #expect((400..<500).contains(expired.status), "\(expired)")
            #expect(expired.body != content)
            #expect(try await server.get(base).body == content, "with a key the download still works")
        }
    }

    // MARK: Secrets

    @Test("secrets never reach the disk in clear, the logs, or a cancelled run's vault")
    func secretsHygiene() async throws {
        try await TestServer.with { server in
            let secret = "Zebra-Quartz-9317!"
            let needles: [(String, [UInt8])] = [
                ("plaintext", Array(secret.utf8)),
                ("base64", Array(Data(secret.utf8).base64EncodedString().utf8)),
                ("URL-encoded", Array("Zebra-Quartz-9317%21".utf8)),
            ]
            let otherKey = try await server.key(organization: "other").key
            var responses: [HTTPResult] = []

            let workflowID = try await server.workflow()
            responses.append(
                try await server.post(
                    "/v1/trajectories",
                    [
                        "workflow_id": .string(workflowID), "is_approved": true,
                        "trajectory_data": [["func_name": "type", "args": ["{$password}"]]],
                        "dimensions": ["width": 1024, "height": 768],
                    ]))
            let sensitive: JSONValue = ["password": .string(secret)]
            var runIDs: [String] = []
            for _ in 0..<2 {
                let response = try await server.post(
                    "/v1/runs", ["workflow_id": .string(workflowID), "sensitive_input_values": sensitive])
                #expect(response.status == 201, "\(response)")
                responses.append(response)
                runIDs.append(try #require(try response.json().objectValue?["id"]?.stringValue))
            }
            let bulk = try await server.post(
                "/v1/runs/bulk", ["workflow_id": .string(workflowID), "count": 2, "sensitive_input_values": sensitive])
            #expect(bulk.status == 201, "\(bulk)")
            let chain = try await server.post(
                "/v1/runs/chain",
                [
                    "steps": [["workflow_id": .string(workflowID)], ["workflow_id": .string(workflowID)]],
                    "shared_sensitive_inputs": sensitive,
                ])
            #expect(chain.status == 201, "\(chain)")
            let machine = try await server.post(
                "/v1/machines",
                [
                    "fingerprint": "fp-1", "unkey_key_id": "unkey-1",
                    "machine_sensitive_parameters": ["token": .string(secret)],
                ])
            #expect(machine.status == 201, "\(machine)")
            let pool = try await server.post(
                "/v1/pools", ["name": "billing", "pool_sensitive_parameters": ["token": .string(secret)]])
            #expect(pool.status == 201, "\(pool)")
            responses += [bulk, chain, machine, pool]

            // A secret that breaks the schema is refused without being repeated.
            let strict = try await server.workflow([
                "input_schema": #"{"properties": {"$password": {"type": "integer", "maximum": 3}}}"#
            ])
            let refused = try await server.post(
                "/v1/runs", ["workflow_id": .string(strict), "sensitive_input_values": sensitive])
            #expect(refused.status == 400, "\(refused)")
            responses.append(refused)

            let cancelled = try await server.request(
                .patch, "/v1/runs/\(runIDs[0])", json: ["status": "cancelled"],
                headers: ["Idempotency-Key": UUID().uuidString])
            #expect(cancelled.status == 200, "\(cancelled)")
            #expect(try cancelled.json().objectValue?["status"] == "cancelled")
            responses.append(cancelled)
            responses.append(try await server.get("/v1/runs?limit=100"))
            responses.append(try await server.get("/v1/runs", as: .key("cdk_wrong")))

            for response in responses {
                #expect(!response.text.contains(secret), "a response repeated the secret: \(response)")
            }

            // The vault: the cancelled run's secrets are gone, the waiting run's are kept.
            #expect(try await server.store.secrets(ofRun: runIDs[0]).isEmpty)
            #expect(try await server.store.secrets(ofRun: runIDs[1]).map(\.name) == ["password"])

            // Every file of the data directory, the SQLite WAL included, in every encoding.
            let files = try server.directory.allFiles()
            #expect(files.contains { $0.hasSuffix("cyberdesk.sqlite-wal") }, "the WAL is among the files: \(files)")
            for file in files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                for (encoding, needle) in needles {
                    #expect(bytes.range(of: Data(needle)) == nil, "\(encoding) secret found in \(file)")
                }
            }

            // The logs: no secret and no API key, although the server did log.
            let lines = server.logs.all
            #expect(lines.contains { $0.contains("run cancelled") }, "the log capture works: \(lines.suffix(5))")
            let logText = lines.joined(separator: "\n")
            for (encoding, needle) in needles {
                #expect(!logText.contains(String(decoding: needle, as: UTF8.self)), "\(encoding) secret in the logs")
            }
            #expect(!logText.contains(server.adminKey), "the admin key is in the logs")
            #expect(!logText.contains(otherKey), "an API key is in the logs")
            #expect(!logText.contains(String(server.adminKey.dropFirst(12))), "part of the admin key is in the logs")
        }
    }

    @Test("search matches what a user typed, not the JSON around it")
    func search() async throws {
        try await TestServer.with { server in
            _ = try await server.workflow(["name": "Invoice export", "main_prompt": "Export the invoices"])
            _ = try await server.workflow(["name": "Patient lookup", "main_prompt": "Find the chart"])
            let hit = try await server.get("/v1/workflows?search=LOOKUP")
            #expect(try hit.json().objectValue?["total"] == 1, "\(hit)")
            let prompt = try await server.get("/v1/workflows?search=invoices")
            #expect(try prompt.json().objectValue?["total"] == 1, "the prompt is searched too")

            let keyName = try await server.get("/v1/workflows?search=main_prompt")
            let total = try keyName.json().objectValue?["total"]
            #expect(total == 0, "\(keyName)")
        }
    }

    // MARK: Odds and ends

    @Test("ids are accepted in upper case, unknown endpoints are JSON 404s, and nothing redirects")
    func pathsAndIDs() async throws {
        try await TestServer.with { server in
            let workflowID = try await server.workflow()
            let upper = try await server.get("/v1/workflows/\(workflowID.uppercased())")
            #expect(upper.status == 200, "\(upper)")
            #expect(try upper.json().objectValue?["id"] == .string(workflowID))

            let unknown = try await server.get("/v1/nothing-here")
            #expect(unknown.status == 404)
            #expect(unknown.detail?.isEmpty == false, "\(unknown)")

            let slash = try await server.get("/v1/workflows/")
            #expect(!(300..<400).contains(slash.status), "\(slash)")
        }
    }
}
