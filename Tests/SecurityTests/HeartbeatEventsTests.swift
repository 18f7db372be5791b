import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// A step's start is one heartbeat that also carries the history events of the steps before
/// it (docs/AGENT-PROTOCOL.md): the events are recorded under the same lease check as
/// `/events`, kept when the run was cancelled meanwhile, and refused with a stale lease.
@Suite("Heartbeat with history events")
struct HeartbeatEventsTests {
    @Test("events ride on the step-start heartbeat, fenced by the lease, kept on a cancelled run")
    func heartbeatCarriesEvents() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let workflowID = try await server.approvedWorkflow(
                [["func_name": "key", "args": ["Return"]], ["func_name": "key", "args": ["Tab"]]])
            let run = try await server.create(
                "/v1/runs", ["workflow_id": .string(workflowID), "machine_id": .string(agent.machineID)])
            let runID = try #require(run["id"]?.stringValue)
            let lease = try await agent.take(runID)
            let path = "/v1/agent/runs/\(runID)/heartbeat"

            func history() async throws -> [JSONValue] {
                try await server.get("/v1/runs/\(runID)").json().objectValue?["run_message_history"]?.arrayValue ?? []
            }

            // A stale lease records nothing.
            let stale = try await agent.request(
                .post, path, json: ["lease_token": "not-the-lease", "step_index": 1, "events": [["type": "step"]]])
            #expect(stale.status == 409, "\(stale)")
            #expect(try await history().isEmpty)

            // Step 1 starts, carrying step 0's event: both recorded by one call.
            // Step `step` starts, carrying the event of the step before it.
            func startStep(_ step: Int) async throws -> HTTPResult {
                try await agent.request(
                    .post, path,
                    json: [
                        "lease_token": .string(lease), "step_index": .int(Int64(step)),
                        "events": [["type": "step", "step_index": .int(Int64(step - 1)), "status": "success"]],
                    ])
            }
            let first = try await startStep(1)
            #expect(first.status == 200, "\(first)")
            #expect(try first.json().objectValue?["cancel_requested"] == false)
            #expect(try first.json().objectValue?["events_recorded"] == true, "an agent falls back to /events without it")
            #expect(try await history().compactMap { $0.objectValue?["step_index"]?.intValue } == [0])

            // Without events it is a plain heartbeat.
            let plain = try await agent.request(.post, path, json: ["lease_token": .string(lease), "step_index": 1])
            #expect(plain.status == 200, "\(plain)")
            #expect(try await history().count == 1)

            // Cancelled meanwhile: the events still land, and the answer says cancel.
            let cancel = try await server.request(
                .patch, "/v1/runs/\(runID)", as: .admin, json: ["status": "cancelled"])
            #expect(cancel.status == 200, "\(cancel)")
            let late = try await startStep(2)
            #expect(late.status == 200, "\(late)")
            #expect(try late.json().objectValue?["cancel_requested"] == true)
            #expect(try await history().compactMap { $0.objectValue?["step_index"]?.intValue } == [0, 1])
        }
    }

    @Test("a run that ended otherwise (error) keeps the events and answers 409: abandon it")
    func endedRunKeepsEvents() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let workflowID = try await server.approvedWorkflow()
            let run = try await server.create(
                "/v1/runs", ["workflow_id": .string(workflowID), "machine_id": .string(agent.machineID)])
            let runID = try #require(run["id"]?.stringValue)
            let lease = try await agent.take(runID)
            let ended = try await server.request(.patch, "/v1/runs/\(runID)", as: .admin, json: ["status": "error"])
            #expect(ended.status == 200, "\(ended)")
            let late = try await agent.request(
                .post, "/v1/agent/runs/\(runID)/heartbeat",
                json: [
                    "lease_token": .string(lease), "step_index": 1,
                    "events": [["type": "step", "step_index": 0, "status": "success"]],
                ])
            #expect(late.status == 409, "\(late)")
            let history =
                try await server.get("/v1/runs/\(runID)").json().objectValue?["run_message_history"]?.arrayValue ?? []
            #expect(history.compactMap { $0.objectValue?["step_index"]?.intValue } == [0])
        }
    }
}
