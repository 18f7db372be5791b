import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

extension FaultTests {
    /// A system whose agent reaches the server only through a proxy the test controls.
    static func withProxiedAgent(_ body: (System, TCPProxy, String) async throws -> Void) async throws {
        try await System.with { system in
            let upstream = try #require(Int(system.url.split(separator: ":").last ?? ""))
            let proxy = try TCPProxy(upstreamPort: upstream)
            defer { proxy.stop() }
            let machineID = try await system.join(server: proxy.url)
            try await system.startAgent(machineID: machineID)
            try await body(system, proxy, machineID)
        }
    }

    /// The network stalls (connections accepted, no byte delivered) longer than the lease
    /// plus grace while a run executes: the server ends the run `error` ("machine lost during
    /// step N") as AGENT-PROTOCOL.md says; when the network comes back the agent learns the
    /// lease is gone (409), abandons the run without overwriting the server's verdict, and
    /// takes the next run.
    @Test func aStallLongerThanTheLeaseEndsTheRunAsLostAndTheAgentRecovers() async throws {
        try await Self.withProxiedAgent { system, proxy, _ in
            let api = system.api
            let context = { system.agentLog }
            let long = try await api.workflow("long", steps: [Self.step("wait", [60])])
            let runID = try await api.run(long)
            #expect(await api.runStatus(runID, is: "running"), "\(context().suffix(2000))")
            proxy.mode = .stall
            let stalledAt = ContinuousClock.now
            let lost = try await api.waitForRun(runID, timeout: .seconds(30), context: context)
            let lostAfter = ContinuousClock.now - stalledAt
            print("network stall: run ended error \(lostAfter) after the stall began")
            #expect(lost["status"]?.stringValue == "error")
            #expect(Self.firstError(lost).contains("machine lost during step 0"), "\(Self.firstError(lost))")
            let bound = Double(system.timing.lease + system.timing.heartbeat) + system.timing.lostGrace + 1.5
            #expect(lostAfter < .seconds(bound), "lost \(lostAfter) after the stall began")

            proxy.mode = .pass
            let resumedAt = ContinuousClock.now
            try await Self.expectMachineTakesWork(api, context: context)
            // Well before the 60 s wait would have ended: the agent dropped the lost run.
            #expect(ContinuousClock.now - resumedAt < .seconds(30))
            #expect(context().contains("run abandoned"), "\(context().suffix(3000))")
            let after = try await api.get("/v1/runs/\(runID)")
            #expect(after["status"]?.stringValue == "error")
            #expect(Self.firstError(after) == Self.firstError(lost))
            #expect(await system.stopAgent() == 0)
        }
    }

    /// A network cut shorter than lease + grace while a run executes: the agent reconnects
    /// with the run as its `active_run`, the lease moves to the new connection, and the run
    /// finishes `success` with its side effect done exactly once.
    @Test func aShortOutageMidRunKeepsTheRunWhichSucceedsOnce() async throws {
        try await Self.withProxiedAgent { system, proxy, _ in
            let api = system.api
            let context = { system.agentLog }
            let marks = system.home + "/marks.txt"
            let workflow = try await api.workflow(
                "outlive",
                steps: [
                    Self.step("wait", [3]),
                    Self.step("execute_terminal_command", [], ["command": .string("echo ran >> \(marks)")]),
                ])
            let runID = try await api.run(workflow)
            #expect(await api.runStatus(runID, is: "running"), "\(context().suffix(2000))")
            let connections = context().components(separatedBy: " connected connection.id=").count
            proxy.cut()
            #expect(await eventually(timeout: .seconds(10)) { context().contains("server unreachable") })
            proxy.mode = .pass
            let run = try await api.waitForRun(runID, timeout: .seconds(30), context: context)
            #expect(run["status"]?.stringValue == "success", "\(run["error"] ?? .null)\n\(context().suffix(3000))")
            // The run may finish before the poll loop's backoff ends (a step's calls retry on
            // their own): the reconnection is awaited, not assumed done.
            #expect(
                await eventually(timeout: .seconds(20)) {
                    context().components(separatedBy: " connected connection.id=").count > connections
                }, "it reconnected")
            #expect((try? String(contentsOfFile: marks, encoding: .utf8)) == "ran\n")
            #expect(await system.stopAgent() == 0)
        }
    }

    /// The network drops (every connection reset, new ones refused) while a run executes,
    /// and the customer cancels the run meanwhile: the API answers `cancelled` at once; when
    /// the network comes back the agent reconnects by itself, the cancel reaches it, its
    /// 60-second step stops and the machine takes the next run.
    @Test func aCancelSentDuringAnOutageReachesTheAgentWhenItComesBack() async throws {
        try await Self.withProxiedAgent { system, proxy, machineID in
            let api = system.api
            let context = { system.agentLog }
            let long = try await api.workflow("long", steps: [Self.step("wait", [60])])
            let runID = try await api.run(long)
            #expect(await api.runStatus(runID, is: "running"), "\(context().suffix(2000))")
            let accepted = proxy.accepted
            proxy.cut()
            #expect(
                await eventually(timeout: .seconds(10)) { context().contains("server unreachable") },
                "the agent did not notice the outage")
            let cancelled = try await api.call(.PATCH, "/v1/runs/\(runID)", json: ["status": "cancelled"], expect: 200)
            #expect(cancelled["status"]?.stringValue == "cancelled")
            #expect(!context().contains("cancelling run") && !context().contains("cancel requested"))

            proxy.mode = .pass
            let restoredAt = ContinuousClock.now
            let heard = await eventually(timeout: .seconds(20)) {
                context().contains("cancelling run") || context().contains("cancel requested")
            }
            #expect(heard, "the cancel did not reach the agent: \(context().suffix(3000))")
            #expect(proxy.accepted > accepted, "the agent came back through the proxy")
            let machine = try await api.get("/v1/machines/\(machineID)")
            #expect(machine["status"]?.stringValue == "connected")
            try await Self.expectMachineTakesWork(api, context: context, timeout: .seconds(20))
            let recovered = ContinuousClock.now - restoredAt
            print("network outage: cancel heard and next run done \(recovered) after the network came back")
            #expect(recovered < .seconds(25))
            #expect(try await api.get("/v1/runs/\(runID)")["status"]?.stringValue == "cancelled")
            #expect(await system.stopAgent() == 0)
        }
    }
}
