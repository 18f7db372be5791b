import CyberdeskAPI
import FoundationEssentials
import Logging
import ServiceLifecycle

/// Enforces the agent protocol's clocks, on the server's time: an offer not claimed in time
/// goes back to the queue, a claim whose lease lapsed before the run started is requeued, a
/// started run whose lease lapsed (plus a grace) ends as `error` — it is never re-executed
/// on its own, since desktop actions have side effects — and a machine that stopped polling
/// becomes `disconnected`.
public struct LeaseSweeper: Service {
    let app: ControlPlane
    let interval: Duration

    public init(app: ControlPlane, interval: Duration = .seconds(1)) {
        self.app = app
        self.interval = interval
    }

    public func run() async throws {
        try await repeatUntilShutdown(every: interval, logger: app.logger, failure: "lease sweep failed") {
            try await sweep()
        }
    }

    /// One pass; returns the number of runs and machines changed (for tests). Replicas on
    /// one database take turns: a pass is skipped while another replica runs one.
    @discardableResult
    public func sweep() async throws -> Int {
        try await app.store.exclusively(AdvisoryLock.sweeps) { try await sweepHere() } ?? 0
    }

    private func sweepHere() async throws -> Int {
        let now = app.now()
        let timing = app.agentTiming
        let offeredBefore = now.addingTimeInterval(-timing.offerTimeout)
        var changed = 0
        var freedMachines = Set<String>()
        let candidates = try await app.store.transaction {
            try await $0.runsToSweep(offeredBefore: offeredBefore, leaseBefore: now)
        }
        for candidate in candidates {
            let outcome = try await app.store.transaction { tx -> String? in
                guard
                    var stored = try await tx.fetch(
                        StoredRun.self, id: candidate.id, organizationID: nil, forUpdate: true),
                    !stored.run.status.isTerminal
                else { return nil }
                let machine = stored.assignedMachineID
                if stored.leaseToken == nil {
                    guard let offered = stored.offeredAt, offered < offeredBefore else { return nil }
                    try await AgentController.interrupt(
                        &stored, reason: "offer lapsed", stepIndex: nil, at: now, in: tx)
                    return machine
                }
                guard let expires = stored.leaseExpiresAt, expires < now else { return nil }
                if stored.run.status == .scheduling {
                    try await AgentController.interrupt(
                        &stored, reason: "claim lapsed", stepIndex: nil, at: now, in: tx)
                    return machine
                }
                guard expires < now.addingTimeInterval(-timing.lostGrace) else { return nil }
                try await AgentController.interrupt(
                    &stored, reason: "machine lost", stepIndex: stored.stepIndex, at: now, in: tx)
                return machine
            }
            if let machine = outcome {
                changed += 1
                freedMachines.insert(machine)
                app.logger.warning(
                    "run lease lapsed", metadata: ["run.id": "\(candidate.id)", "machine.id": "\(machine)"])
            }
        }
        let silentSince = now.addingTimeInterval(-timing.disconnectAfter)
        let silent = try await app.store.transaction { try await $0.machines(connectedAndSeenBefore: silentSince) }
        for machine in silent {
            try await app.store.transaction { tx in
                guard
                    var current = try await tx.fetch(
                        Machine.self, id: machine.id, organizationID: nil, forUpdate: true),
                    current.status == .connected, current.lastSeen < silentSince
                else { return }
                current.status = .disconnected
                try await tx.save(current)
                let open = try await tx.list(
                    Connection.self, organizationID: current.organizationID,
                    filters: [.equals("machine_id", .text(current.id)), .equals("status", .text("connected"))],
                    order: .oldestFirst, skip: 0, limit: 1000)
                for var connection in open.items {
                    connection.status = .disconnected
                    connection.disconnectedAt = Timestamp.truncated(now)
                    try await tx.save(connection)
                }
            }
            changed += 1
            app.logger.warning("machine disconnected", metadata: ["machine.id": "\(machine.id)"])
        }
        if !freedMachines.isEmpty {
            // Requeued runs and freed machines: the polls that can take them look again.
            await WakePlanner(app: app).wakeForQueue()
            app.hub.publishQueueChanged()
        }
        return changed
    }
}
