import AsyncHTTPClient
import CyberdeskAPI
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport

/// The public v1 API as the SDK speaks it: a server's URL and an API key.
public struct APIClient: Sendable {
    public var url: String
    public var key: String
    /// Keeps every answer, when the caller scans them afterwards (the secret scan).
    public var recorder: AnswerRecorder?

    public init(url: String, key: String, recorder: AnswerRecorder? = nil) {
        self.url = url
        self.key = key
        self.recorder = recorder
    }

    public struct HTTPError: Error, CustomStringConvertible {
        public var status: Int
        public var body: String
        public var description: String { "HTTP \(status): \(body)" }
    }

    public func request(
        _ method: HTTPMethod, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = [],
        timeout: Int64 = 60
    ) async throws -> (status: Int, body: [UInt8], contentType: String?) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.compactJSON))
        }
        return try await execute(request, label: "\(method) \(path)", timeout: timeout)
    }

    /// A request with a raw body (multipart uploads), with the key.
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8], contentType: String) async throws -> (
        status: Int, body: [UInt8], contentType: String?
    ) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await execute(request, label: "\(method) \(path)", timeout: 60)
    }

    /// A signed link (an absolute URL), without the API key.
    public func fetch(_ url: String) async throws -> (status: Int, body: [UInt8], contentType: String?) {
        try await execute(HTTPClientRequest(url: url), label: "GET \(url)", timeout: 60)
    }

    private func execute(_ request: HTTPClientRequest, label: String, timeout: Int64) async throws -> (
        status: Int, body: [UInt8], contentType: String?
    ) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
        var body = try await response.body.collect(upTo: 50 << 20)
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        if let recorder {
            let headers = response.headers.map { "\($0.name): \($0.value)\n" }.joined()
            recorder.record("\(label) → \(response.status.code)", Array(headers.utf8) + bytes)
        }
        return (Int(response.status.code), bytes, response.headers.first(name: "Content-Type"))
    }

    public func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, expect: Int) async throws
        -> JSONObject
    {
        let answer = try await request(method, path, json: json)
        guard answer.status == expect else {
            throw HTTPError(status: answer.status, body: String(decoding: answer.body, as: UTF8.self))
        }
        if answer.body.isEmpty { return [:] }
        return try JSONDecoder().decode(JSONValue.self, from: Data(answer.body)).objectValue ?? [:]
    }

    public func get(_ path: String) async throws -> JSONObject { try await call(.GET, path, expect: 200) }

    /// Waits until the run's history has an event for the step before `index` (events
    /// arrive in batches after each step, and a step's start is reported before that).
    public func reachedStep(_ index: Int, of runID: String) async -> Bool {
        await eventually(timeout: .seconds(20)) {
            let run = try? await self.get("/v1/runs/\(runID)")
            let events = run?["run_message_history"]?.arrayValue ?? []
            return events.contains { $0.objectValue?["step_index"]?.intValue == Int64(index - 1) }
        }
    }

    /// A workflow with an approved trajectory recorded on a 1280x800 screen; its id.
    public func workflow(_ prompt: String, steps: [JSONValue], extra: JSONObject = [:]) async throws -> String {
        var body: JSONObject = ["main_prompt": .string(prompt)]
        body.merge(extra) { $1 }
        let workflow = try await call(.POST, "/v1/workflows", json: .object(body), expect: 201)
        guard let id = workflow["id"]?.stringValue else { throw TestFailure("the workflow has no id") }
        _ = try await call(
            .POST, "/v1/trajectories",
            json: [
                "workflow_id": .string(id), "trajectory_data": .array(steps),
                "dimensions": ["width": 1280, "height": 800], "is_approved": true,
            ], expect: 201)
        return id
    }

    /// Creates a run of the workflow; its id.
    public func run(_ workflowID: String, inputs: JSONObject? = nil) async throws -> String {
        var body: JSONObject = ["workflow_id": .string(workflowID)]
        if let inputs { body["input_values"] = .object(inputs) }
        let run = try await call(.POST, "/v1/runs", json: .object(body), expect: 201)
        guard let id = run["id"]?.stringValue else { throw TestFailure("the run has no id") }
        return id
    }

    public static let terminal: Set<String> = ["success", "task_failed", "error", "cancelled"]

    /// Polls the run until it reaches a terminal status.
    public func waitForRun(
        _ runID: String, timeout: Duration = .seconds(60), context: () -> String = { "" }
    ) async throws -> JSONObject {
        var run: JSONObject = [:]
        let ended = await eventually(timeout: timeout) {
            run = (try? await self.get("/v1/runs/\(runID)")) ?? run
            return Self.terminal.contains(run["status"]?.stringValue ?? "")
        }
        guard ended else {
            throw TestFailure(
                "run \(runID) did not end: \(run["status"]?.stringValue ?? "?")\n\(context().suffix(4000))")
        }
        return run
    }

    /// Polls until the condition on the run holds.
    public func runStatus(_ runID: String, is status: String, timeout: Duration = .seconds(20)) async -> Bool {
        await eventually(timeout: timeout) {
            (try? await self.get("/v1/runs/\(runID)"))?["status"]?.stringValue == status
        }
    }
}

/// Every answer a test received (API calls and signed links), with its headers.
public final class AnswerRecorder: Sendable {
    private let answers = Mutex<[(label: String, bytes: [UInt8])]>([])

    public init() {}

    public func record(_ label: String, _ bytes: [UInt8]) { answers.withLock { $0.append((label, bytes)) } }

    public var all: [(label: String, bytes: [UInt8])] { answers.withLock { $0 } }
}
