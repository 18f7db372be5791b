import ControlPlane
import CyberdeskAPI
import Foundation
import HTTPTypes
import ServerTestSupport
import Testing

/// Hostile requests to the public API and the agent protocol. Each is refused with a 4xx
/// whose message says what to fix, and leaves every table row and every blob file as it
/// was (`StoreSnapshot` before and after each request).
@Suite("Hostile input")
struct HostileInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method = .post
        var path: String
        var body: Body
        var status: Int
        /// Words the refusal must contain (case-insensitive), so it tells the caller what to fix.
        var says: [String]
        var headers: [String: String] = [:]
        var asMachine = false

        enum Body: Sendable {
            case none
            case raw(String)
            case json(JSONValue)
            case bytes([UInt8])
        }

        var testDescription: String { name }
    }

    static let file = Data("file content".utf8).base64EncodedString()
    static let goodFile: JSONValue = ["filename": "ok.txt", "content": .string(file)]
    /// A file no other request stored: a blob of it after a refusal would be an orphan.
    static let freshFile: JSONValue = [
        "filename": "fresh.txt", "content": .string(Data("stored by no one else".utf8).base64EncodedString()),
    ]

    static func fileInput(_ filename: String, target: String? = nil) -> JSONValue {
        var input: JSONObject = ["filename": .string(filename), "content": .string(file)]
        if let target { input["target_path"] = .string(target) }
        return .object(input)
    }

    /// Requests against a world with a workflow `{workflow}`, a run `{run}` leased to the
    /// machine (lease `{lease}`), and its connected machine `{machine}`.
    static let cases: [Case] = [
        Case(name: "malformed JSON", path: "/v1/runs", body: .raw(#"{"workflow_id": "#), status: 422, says: ["json"]),
        Case(
            name: "a JSON array instead of an object", path: "/v1/runs", body: .raw("[1,2]"), status: 422,
            says: ["dictionary"]),
        Case(
            name: "invalid UTF-8", path: "/v1/workflows", body: .bytes([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]),
            status: 422, says: ["json"]),
        Case(
            name: "nesting 100,000 deep", path: "/v1/runs",
            body: .raw(
                #"{"workflow_id": "{workflow}", "input_values": {"a": "# + String(repeating: "[", count: 100_000)),
            status: 422, says: ["json"]),
        Case(
            name: "wrong type: input_values", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "input_values": "x"]), status: 422,
            says: ["input_values", "dictionary"]),
        Case(
            name: "wrong type: is_priority", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "is_priority": "yes"]), status: 422,
            says: ["is_priority", "boolean"]),
        Case(
            name: "wrong type in a PATCH", method: .patch, path: "/v1/workflows/{workflow}", body: .json(["name": 5]),
            status: 422, says: ["name", "string"]),
        Case(
            name: "wrong type: bulk count", path: "/v1/runs/bulk",
            body: .json(["workflow_id": "{workflow}", "count": 1_000_001]), status: 422, says: ["count"]),
        Case(
            name: "non-UUID id in a path", method: .delete, path: "/v1/runs/..%2F..%2Fetc", body: .none, status: 422,
            says: ["uuid"]),
        Case(
            name: "non-UUID id in an agent path", path: "/v1/agent/runs/not-a-run/claim", body: .none, status: 422,
            says: ["uuid"], asMachine: true),
        Case(
            name: "non-UUID machine_id", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "machine_id": "desk-7"]), status: 422,
            says: ["machine_id", "uuid"]),
        Case(
            name: "non-UUID in pool_ids", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "pool_ids": ["{machine}", "x"]]), status: 422,
            says: ["pool_ids", "uuid"]),
        Case(
            name: "non-UUID run_id of an attachment", path: "/v1/run-attachments",
            body: .json([
                "content_type": "text/plain", "attachment_type": "input", "run_id": "1 OR 1=1", "filename": "a.txt",
                "content": .string(file),
            ]), status: 422, says: ["run_id", "uuid"]),
        Case(
            name: "filename with ..", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "file_inputs": [freshFile, fileInput("..")]]), status: 400,
            says: ["filename", ".."]),
        Case(
            name: "filename with a slash", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "file_inputs": [freshFile, fileInput("../../.bashrc")]]),
            status: 400, says: ["filename", "plain file name"]),
        Case(
            name: "filename with NUL", path: "/v1/runs",
            body: .json(["workflow_id": "{workflow}", "file_inputs": [freshFile, fileInput("a\u{0}.txt")]]),
            status: 400, says: ["control characters"]),
        Case(
            name: "filename with a newline", path: "/v1/run-attachments",
            body: .json([
                "content_type": "text/plain", "attachment_type": "input", "run_id": "{run}", "filename": "a\nb.txt",
                "content": .string(file),
            ]), status: 400, says: ["control characters"]),
        Case(
            name: "filename with an escape sequence", path: "/v1/runs/chain",
            body: .json([
                "steps": [["workflow_id": "{workflow}"]],
                "shared_file_inputs": [freshFile, fileInput("\u{1b}[31mred")],
            ]), status: 400, says: ["control characters"]),
        Case(
            name: "filename of 256 bytes", path: "/v1/runs",
            body: .json([
                "workflow_id": "{workflow}", "file_inputs": [freshFile, fileInput(String(repeating: "é", count: 128))],
            ]), status: 400, says: ["255 bytes"]),
        Case(
            name: "target_path with ..", path: "/v1/runs",
            body: .json([
                "workflow_id": "{workflow}",
                "file_inputs": [freshFile, fileInput("a.txt", target: "~/CyberdeskTransfers/../.ssh/")],
            ]), status: 400, says: ["target_path", ".."]),
        Case(
            name: "target_path with a control character", path: "/v1/run-attachments",
            body: .json([
                "content_type": "text/plain", "attachment_type": "input", "run_id": "{run}", "filename": "a.txt",
                "content": .string(file), "target_path": "in\u{7f}/",
            ]), status: 400, says: ["target_path", "control"]),
        Case(
            name: "a retry of a running run, with a file", path: "/v1/runs/{run}/retry",
            body: .json(["file_inputs": [freshFile]]), status: 409, says: ["only a finished run can be retried"]),
        Case(
            name: "file content that is not base64", path: "/v1/runs",
            body: .json([
                "workflow_id": "{workflow}",
                "file_inputs": [freshFile, ["filename": "b.txt", "content": "aGVsbG8=%%%"]],
            ]), status: 400, says: ["base64"]),
        Case(
            name: "a file over the limit", path: "/v1/run-attachments",
            body: .json([
                "content_type": "text/plain", "attachment_type": "input", "run_id": "{run}", "filename": "big.bin",
                "content": .string(Data(count: 5000).base64EncodedString()),
            ]), status: 413, says: ["big.bin", "limit"]),
        Case(
            name: "a body over the limit", path: "/v1/workflows",
            body: .json(["main_prompt": .string(String(repeating: "x", count: (3 << 20) + 10))]), status: 413,
            says: ["larger"]),
        // Routes without files take 1 MiB although the file routes take 3 MiB here.
        Case(
            name: "a PATCH of 2 MiB on a route without files", method: .patch, path: "/v1/workflows/{workflow}",
            body: .json(["main_prompt": .string(String(repeating: "x", count: 2 << 20))]), status: 413,
            says: ["larger", "PATCH /v1/workflows/:id", "1 MiB"]),
        Case(
            name: "a Content-Length over the limit", path: "/v1/pools",
            body: .json(["name": "p", "description": .string(String(repeating: "d", count: (1 << 20) + 1))]),
            status: 413, says: ["larger", "/v1/pools", "1048576 bytes"]),
        Case(
            name: "a main_prompt over its limit", path: "/v1/workflows",
            body: .json(["main_prompt": .string(String(repeating: "x", count: (128 << 10) + 1))]), status: 422,
            says: ["main_prompt", "131072"]),
        Case(
            name: "a PATCH of main_prompt over its limit", method: .patch, path: "/v1/workflows/{workflow}",
            body: .json(["main_prompt": .string(String(repeating: "é", count: (128 << 10) + 1))]), status: 422,
            says: ["main_prompt", "131072"]),
        Case(
            name: "a workflow name over its limit", path: "/v1/workflows",
            body: .json(["main_prompt": "x", "name": .string(String(repeating: "n", count: 256))]), status: 422,
            says: ["name", "255"]),
        Case(
            name: "run inputs over their limit on a route where files travel", path: "/v1/runs",
            body: .json([
                "workflow_id": "{workflow}", "input_values": ["note": .string(String(repeating: "x", count: 1 << 20))],
            ]), status: 422, says: ["input_values", "1 MiB"]),
        Case(
            name: "a trajectory description over its limit", path: "/v1/trajectories",
            body: .json([
                "workflow_id": "{workflow}", "trajectory_data": [["func_name": "screenshot"]],
                "dimensions": ["width": 1024, "height": 768],
                "description": .string(String(repeating: "d", count: (16 << 10) + 1)),
            ]), status: 422, says: ["description", "16384"]),
        Case(
            name: "an upload over the file limit", path: "/v1/agent/runs/{run}/attachments?filename=big.bin",
            body: .bytes(Array(repeating: 65, count: 5000)), status: 413, says: ["limit"],
            headers: ["X-Lease-Token": "{lease}"], asMachine: true),
        Case(
            name: "an upload with a path for a filename", path: "/v1/agent/runs/{run}/attachments?filename=..%2Fx",
            body: .bytes(Array("x".utf8)), status: 400, says: ["filename"], headers: ["X-Lease-Token": "{lease}"],
            asMachine: true),
        Case(
            name: "an upload whose digest does not match", path: "/v1/agent/runs/{run}/attachments?filename=x.txt",
            body: .bytes(Array("x".utf8)), status: 400, says: ["sha-256"],
            headers: ["X-Lease-Token": "{lease}", "X-Content-SHA256": String(repeating: "0", count: 64)],
            asMachine: true),
        Case(
            name: "an upload with a stale lease", path: "/v1/agent/runs/{run}/images", body: .bytes(Array("x".utf8)),
            status: 409, says: ["lease"], headers: ["X-Lease-Token": "lease_old"], asMachine: true),
        Case(
            name: "events over the body limit", path: "/v1/agent/runs/{run}/events",
            body: .json([
                "lease_token": "{lease}", "events": [["text": .string(String(repeating: "x", count: 1 << 20))]],
            ]), status: 413, says: ["larger"], asMachine: true),
        Case(
            name: "a computer action over 64 KiB", path: "/v1/computer/{machine}/input/keyboard/type",
            body: .json(["text": .string(String(repeating: "x", count: 70 << 10))]), status: 413, says: ["64 KiB"]),
        Case(
            name: "an unknown func_name", path: "/v1/trajectories", body: .json(trajectory([["func_name": "rm_rf"]])),
            status: 400, says: ["step 0", "rm_rf"]),
        Case(
            name: "an unknown argument name", path: "/v1/trajectories",
            body: .json(
                trajectory([
                    ["func_name": "screenshot"], ["func_name": "click", "kwargs": ["x": 1, "y": 2, "buton": "left"]],
                ])), status: 400, says: ["step 1", "buton"]),
        Case(
            name: "an unknown key name", path: "/v1/trajectories",
            body: .json(trajectory([["func_name": "screenshot"], ["func_name": "key", "args": ["ctrl+shfit+t"]]])),
            status: 400, says: ["step 1", "unknown key name 'shfit'"]),
        Case(
            name: "an unknown key name in a PATCH", method: .patch, path: "/v1/trajectories/{trajectory}",
            body: .json(["trajectory_data": [["func_name": "key", "kwargs": ["text": "alt+f4 hyperspace"]]]]),
            status: 400, says: ["step 0", "'hyperspace'"]),
        Case(
            name: "a secret outside type", path: "/v1/trajectories",
            body: .json(
                trajectory([["func_name": "execute_terminal_command", "args": ["echo {$password} > /tmp/x"]]])),
            status: 400, says: ["{$password}", "type"]),
        Case(
            name: "10,001 steps", path: "/v1/trajectories",
            body: .json(trajectory(Array(repeating: ["func_name": "screenshot"], count: 10_001))), status: 422,
            says: ["trajectory_data", "10000"]),
        Case(
            name: "a text of 1 MiB + 1 byte", path: "/v1/trajectories",
            body: .json(
                trajectory([["func_name": "type", "args": [.string(String(repeating: "a", count: (1 << 20) + 1))]]])),
            status: 400, says: ["step 0", "1048576"]),
        Case(
            name: "a PATCH to 10,001 steps", method: .patch, path: "/v1/trajectories/{trajectory}",
            body: .json(["trajectory_data": .array(Array(repeating: ["func_name": "screenshot"], count: 10_001))]),
            status: 422, says: ["trajectory_data", "10000"]),
        Case(
            name: "absurd dimensions", path: "/v1/trajectories",
            body: .json([
                "workflow_id": "{workflow}", "trajectory_data": [["func_name": "screenshot"]],
                "dimensions": ["width": -1, "height": 1e300],
            ]), status: 400, says: ["dimensions"]),
        Case(
            name: "an Idempotency-Key of 256 bytes", path: "/v1/workflows", body: .json(["main_prompt": "x"]),
            status: 422, says: ["Idempotency-Key"], headers: ["Idempotency-Key": String(repeating: "k", count: 256)]),
        Case(
            name: "a download link signed for another file", method: .get,
            path: "/v1/run-attachments/{attachment}/download?expires=9999999999&signature=AAAA", body: .none,
            status: 403, says: ["link"]),
        Case(
            name: "a run image link without a signature", method: .get, path: "/v1/run-images/{run}/{image}",
            body: .none, status: 403, says: ["link"]),
        Case(
            name: "an SVG named chart.png", path: "/v1/workflows/prompt-image",
            body: .bytes(multipart(Array("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".utf8))),
            status: 400, says: ["PNG, JPEG, GIF or WebP"], headers: ["Content-Type": multipartType]),
        Case(
            name: "a multipart body cut short", path: "/v1/workflows/prompt-image",
            body: .bytes(Array(multipart(pngHeader).dropLast(30))), status: 422, says: ["closing boundary"],
            headers: ["Content-Type": multipartType]),
        Case(
            name: "a prompt image of 4 MiB over a 3 MiB body limit", path: "/v1/workflows/prompt-image",
            body: .bytes(multipart(pngHeader + [UInt8](repeating: 7, count: 4 << 20))), status: 413,
            says: ["larger"], headers: ["Content-Type": multipartType]),
        Case(
            name: "a model configuration of an unknown provider, with a key", path: "/v1/model-configurations",
            body: .json(["name": "m", "provider": "cohere", "model": "command", "api_key": "sk-hostile-0000"]),
            status: 400, says: ["anthropic, openai"]),
        Case(
            name: "a prompt naming an image never uploaded", path: "/v1/workflows",
            body: .json(["main_prompt": "<img src=\"supabase://workflow-prompt-images/x/prompt-assets/y.png\">"]),
            status: 400, says: ["upload_prompt_image"]),
        Case(
            name: "a prompt image link without a signature", method: .get,
            path: "/v1/workflow-prompt-images/\(UUID().uuidString.lowercased())", body: .none, status: 403,
            says: ["link"]),
    ]

    static let multipartType = "multipart/form-data; boundary=hostile-boundary"
    static let pngHeader: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func multipart(_ content: [UInt8]) -> [UInt8] {
        Array(
            "--hostile-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chart.png\"\r\n\r\n".utf8)
            + content + Array("\r\n--hostile-boundary--\r\n".utf8)
    }

    static func trajectory(_ steps: [JSONValue]) -> JSONValue {
        ["workflow_id": "{workflow}", "trajectory_data": .array(steps), "dimensions": ["width": 1024, "height": 768]]
    }

    @Test("refused with a 4xx that says what to fix, and nothing is written", arguments: cases)
    func refused(_ testCase: Case) async throws {
        try await TestServer.with(limits: .init(maxBodyBytes: 3 << 20, maxFileBytes: 4096)) { server in
            let world = try await HostileWorld.build(server)
            let before = try await StoreSnapshot.take(server)
            let body: [UInt8]?
            switch testCase.body {
            case .none: body = nil
            case .raw(let text): body = Array(world.fill(text).utf8)
            case .json(let json): body = Array(try APIJSON.encoder().encode(world.fill(json)))
            case .bytes(let bytes): body = bytes
            }
            let response = try await server.request(
                testCase.method, world.fill(testCase.path), as: testCase.asMachine ? world.agent.credential : .admin,
                bytes: body, headers: testCase.headers.mapValues(world.fill))
            #expect(response.status == testCase.status, "\(response)")
            let message = response.text.lowercased()
            for word in testCase.says {
                #expect(message.contains(word.lowercased()), "the refusal should mention '\(word)': \(response)")
            }
            let after = try await StoreSnapshot.take(server)
            #expect(after == before, "the refused request wrote:\n\(after.difference(from: before))")
            // The server is still answering.
            #expect(try await server.get("/v1/health").status == 200)
        }
    }

    @Test("the body limit is the route's: a file route and a completion take 2 MiB, a pool does not")
    func bodyLimitPerRoute() async throws {
        try await TestServer.with { server in
            let world = try await HostileWorld.build(server)
            let twoMiB = String(repeating: "x", count: 2 << 20)
            let pool = try await server.post("/v1/pools", ["name": "p", "description": .string(twoMiB)])
            #expect(pool.status == 413, "\(pool)")
            #expect(pool.detail?.contains("POST /v1/pools accepts: at most 1 MiB") == true, "\(pool)")
            let file = Data(repeating: 7, count: 2 << 20).base64EncodedString()
            let run = try await server.post(
                "/v1/runs",
                [
                    "workflow_id": .string(world.values["workflow"]!),
                    "file_inputs": [["filename": "scan.bin", "content": .string(file)]],
                ])
            #expect(run.status == 201, "\(run)")
            // A completion carries output_data, which a read_file may fill with 10 MiB.
            let runID = world.values["run"]!
            let complete = try await world.agent.request(
                .post, "/v1/agent/runs/\(runID)/complete",
                json: [
                    "lease_token": .string(world.values["lease"]!), "status": "success",
                    "output_data": ["file": .string(twoMiB)],
                ])
            #expect(complete.status == 200, "\(complete)")
            let finished = try await server.get("/v1/runs/\(runID)").json().objectValue
            #expect(finished?["output_data"]?.objectValue?["file"]?.stringValue?.utf8.count == 2 << 20)
        }
    }

    @Test("an expired run image link is refused; the same link worked before")
    func expiredImageLink() async throws {
        try await TestServer.with { server in
            let world = try await HostileWorld.build(server)
            let link = try await server.get(
                "/v1/runs/\(world.values["run"]!)/image/signed-url?image_url=\(world.values["image"]!)&expires_in=10")
            let url = try #require(try link.json().objectValue?["signed_url"]?.stringValue, "\(link)")
            let path = IsolationWorld.localPath(url, server)
            #expect(try await server.get(path, as: .none).status == 200)
            server.clock.advance(by: 11)
            let expired = try await server.get(path, as: .none)
            #expect(expired.status == 403, "\(expired)")
            #expect(expired.detail?.contains("expired") == true)
        }
    }
}
