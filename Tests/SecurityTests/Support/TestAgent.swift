import CyberdeskAPI
import Foundation
import HTTPTypes
import ServerTestSupport
import Testing

/// A machine speaking the agent protocol over HTTP to a `TestServer`, step by step, so a
/// test can hold a run in any state (offered, claimed, running, finished) and try what a
/// hostile or confused machine would.
struct TestAgent: Sendable {
    let server: TestServer
    let machineID: String
    let token: String

    var credential: Credential { .key(token) }

    /// `POST /v1/agent/register` with an API key or a registration token.
    static func register(
        _ server: TestServer, with credential: String, fingerprint: String = UUID().uuidString, pools: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestAgent {
        let response = try await server.post(
            "/v1/agent/register",
            [
                "fingerprint": .string(fingerprint), "name": .string("desk-\(fingerprint.prefix(6))"),
                "pools": .array(pools.map { .string($0) }),
            ],
            as: .key(credential))
        try #require(response.status == 200, "\(response)", sourceLocation: sourceLocation)
        let answer = try #require(try response.json().objectValue, sourceLocation: sourceLocation)
        return TestAgent(
            server: server, machineID: try #require(answer["machine_id"]?.stringValue),
            token: try #require(answer["machine_token"]?.stringValue))
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, json: JSONValue? = nil, bytes: [UInt8]? = nil,
        headers: [String: String] = [:]
    ) async throws -> HTTPResult {
        try await server.request(method, path, as: credential, json: json, bytes: bytes, headers: headers)
    }

    /// Connects and returns the connection id.
    func connect() async throws -> String {
        let response = try await request(.post, "/v1/agent/connect", json: ["version": "test"])
        try #require(response.status == 200, "\(response)")
        return try #require(try response.json().objectValue?["connection_id"]?.stringValue)
    }

    /// One poll that does not wait; the offered run ids.
    func offers(connection: String) async throws -> [String] {
        let response = try await request(.get, "/v1/agent/poll?connection_id=\(connection)&wait=0")
        if response.status == 204 { return [] }
        try #require(response.status == 200, "\(response)")
        return try #require(try response.json().objectValue?["messages"]?.arrayValue).compactMap {
            $0.objectValue?["run_id"]?.stringValue
        }
    }

    /// Claims the run; its lease token.
    func claim(_ runID: String) async throws -> String {
        let response = try await request(.post, "/v1/agent/runs/\(runID)/claim")
        try #require(response.status == 200, "\(response)")
        return try #require(try response.json().objectValue?["lease_token"]?.stringValue)
    }

    func start(_ runID: String, lease: String) async throws {
        let response = try await request(.post, "/v1/agent/runs/\(runID)/start", json: ["lease_token": .string(lease)])
        try #require(response.status == 200, "\(response)")
    }

    func complete(_ runID: String, lease: String, status: String = "success") async throws {
        let response = try await request(
            .post, "/v1/agent/runs/\(runID)/complete", json: ["lease_token": .string(lease), "status": .string(status)])
        try #require(response.status == 200, "\(response)")
    }

    /// Connects, takes the offer of `runID`, claims it and (when `start`) starts it.
    func take(_ runID: String, start: Bool = true) async throws -> String {
        let connection = try await connect()
        let offered = try await offers(connection: connection)
        try #require(offered.contains(runID), "run \(runID) was not offered to \(machineID): \(offered)")
        let lease = try await claim(runID)
        if start { try await self.start(runID, lease: lease) }
        return lease
    }
}

extension TestServer {
    /// A workflow with an approved trajectory of `steps`; its id.
    func approvedWorkflow(_ steps: JSONValue = [["func_name": "key", "args": ["Return"]]]) async throws -> String {
        let workflowID = try await workflow()
        _ = try await create(
            "/v1/trajectories",
            [
                "workflow_id": .string(workflowID), "is_approved": true, "trajectory_data": steps,
                "dimensions": ["width": 1024, "height": 768],
            ])
        return workflowID
    }
}
