import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// A workflow with a trajectory, a machine connected over the agent protocol holding a
/// started run with an input file and a screenshot.
struct HostileWorld: Sendable, Placeholders {
    let agent: TestAgent
    let values: [String: String]

    static func build(_ server: TestServer) async throws -> HostileWorld {
        var values: [String: String] = [:]
        let agent = try await TestAgent.register(server, with: server.adminKey)
        values["machine"] = agent.machineID
        values["workflow"] = try await server.workflow()
        let trajectory = try await server.create(
            "/v1/trajectories",
            [
                "workflow_id": .string(values["workflow"]!), "trajectory_data": [["func_name": "screenshot"]],
                "dimensions": ["width": 1024, "height": 768],
            ])
        values["trajectory"] = try #require(trajectory["id"]?.stringValue)
        let run = try await server.create(
            "/v1/runs",
            [
                "workflow_id": .string(values["workflow"]!), "machine_id": .string(agent.machineID),
                "file_inputs": [HostileInputTests.goodFile],
            ])
        values["run"] = try #require(run["id"]?.stringValue)
        values["attachment"] = try #require(run["input_attachment_ids"]?.arrayValue?.first?.stringValue)
        values["lease"] = try await agent.take(values["run"]!)
        values["image"] = try await IsolationWorld.upload(
            image: Array("png".utf8), run: values["run"]!, lease: values["lease"]!, as: agent)
        return HostileWorld(agent: agent, values: values)
    }

}
