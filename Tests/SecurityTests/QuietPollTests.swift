import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// An idle machine's poll renewal skips the store when its last look found nothing and
/// nothing woke it since (`MachineHub.isQuiet`). A change that makes the machine eligible for
/// waiting work without waking it — here joining the pool a waiting run asks for — must make
/// the next renewal look again, or the run would wait for a machine that never sees it.
@Suite("Quiet poll renewals")
struct QuietPollTests {
    @Test("joining the pool of a waiting run ends the machine's quiet: its next poll gets the offer")
    func poolMembershipEndsQuiet() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let connection = try await agent.connect()
            let workflowID = try await server.approvedWorkflow()
            let pool = try await server.create("/v1/pools", ["name": "night-shift"])
            let poolID = try #require(pool["id"]?.stringValue)
            let run = try await server.create(
                "/v1/runs", ["workflow_id": .string(workflowID), "pool_ids": [.string(poolID)]])
            let runID = try #require(run["id"]?.stringValue)

            // Not in the pool: the first poll looks and finds nothing, the renewals are quiet.
            for _ in 0..<3 { #expect(try await agent.offers(connection: connection).isEmpty) }

            let joined = try await server.post(
                "/v1/pools/\(poolID)/machines", ["machine_ids": [.string(agent.machineID)]])
            #expect(joined.status == 200, "\(joined)")
            #expect(try await agent.offers(connection: connection) == [runID])
        }
    }

    @Test("a run pinned to a quiet machine wakes it: the next poll gets the offer")
    func pinnedRunEndsQuiet() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let connection = try await agent.connect()
            for _ in 0..<3 { #expect(try await agent.offers(connection: connection).isEmpty) }
            let workflowID = try await server.approvedWorkflow()
            let run = try await server.create(
                "/v1/runs", ["workflow_id": .string(workflowID), "machine_id": .string(agent.machineID)])
            #expect(try await agent.offers(connection: connection) == [try #require(run["id"]?.stringValue)])
        }
    }

    @Test("deleting the run a quiet machine holds frees it: its next poll gets its next run")
    func deletingAHeldRunEndsQuiet() async throws {
        try await TestServer.with { server in
            let agent = try await TestAgent.register(server, with: server.adminKey)
            let workflowID = try await server.approvedWorkflow()
            func pinnedRun() async throws -> String {
                try #require(
                    try await server.create(
                        "/v1/runs", ["workflow_id": .string(workflowID), "machine_id": .string(agent.machineID)]
                    )["id"]?.stringValue)
            }
            let held = try await pinnedRun()
            let connection = try await agent.connect()
            #expect(try await agent.offers(connection: connection) == [held])
            try await agent.start(held, lease: try await agent.claim(held))
            let next = try await pinnedRun()
            // Busy: the polls find nothing to offer and the machine turns quiet.
            for _ in 0..<3 { #expect(!(try await agent.offers(connection: connection)).contains(next)) }
            let deleted = try await server.request(.delete, "/v1/runs/\(held)", as: .admin)
            #expect(deleted.status < 300, "\(deleted)")
            #expect(try await agent.offers(connection: connection).contains(next))
        }
    }
}
