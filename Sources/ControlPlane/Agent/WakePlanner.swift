import CyberdeskAPI
import FoundationEssentials

/// Decides which long polls to wake when work appears, so that a run wakes the few polls
/// that can take it rather than every poll of every idle machine (with 10,000 idle agents,
/// waking all of them for each unpinned run cost 20,000 store transactions per run).
///
/// For each waiting run: a pinned run wakes its machine; a run of a session already bound to
/// a machine wakes that machine; any other run wakes one eligible idle machine (connected,
/// available, free, in every pool the run names) whose poll waits on this replica. A poll
/// looks at the store before it waits unless its machine is quiet (`MachineHub.look`); what
/// a woken machine leaves (it took an older run, or it was draining) and what a machine
/// between polls missed is planned again by the queue check (`ClusterService`: when the
/// queue changed, and every 5 s while runs wait), and by the end of that run.
struct WakePlanner: Sendable {
    let app: ControlPlane

    /// Wakes the polls that can take new runs: a pinned run's machine on every replica; for
    /// other runs the eligible polls of this replica, and the other replicas plan for theirs.
    func wake(for runs: [StoredRun]) async {
        let pinned = Set(runs.compactMap(\.pinnedMachineID))
        for machineID in pinned { app.hub.wake(machineID) }
        let others = runs.filter { $0.pinnedMachineID == nil }
        guard !others.isEmpty else { return }
        await wakeHere(for: others)
        app.hub.publishQueueChanged()
    }

    /// After a run ended: its machine is free again, and when it was a session's run, the
    /// session's next run (or the runs its release lets others take) may be due.
    func wake(afterEnding stored: StoredRun) async {
        if let machineID = stored.assignedMachineID { app.hub.wake(machineID) }
        guard stored.run.sessionID != nil else { return }
        await wakeForQueue()
        app.hub.publishQueueChanged()
    }

    /// Plans for the oldest waiting runs (another replica's news, or the queue check).
    func wakeForQueue() async {
        guard app.hub.hasWaitingPolls else { return }
        let runs = (try? await app.store.transaction { try await $0.waitingRuns(limit: 250) }) ?? []
        await wakeHere(for: runs)
    }

    func wakeHere(for runs: [StoredRun]) async {
        let waiting = app.hub.waitingMachineIDs()
        guard !waiting.isEmpty else { return }
        var targets = Set<String>()
        struct Group: Hashable {
            var organizationID: String
            var poolIDs: [String]
        }
        var groups: [Group: Int] = [:]
        // The machines bound sessions hold, read in one transaction.
        let sessionIDs: Set<String> = Set(runs.filter { $0.pinnedMachineID == nil }.compactMap(\.run.sessionID))
        let bound =
            (try? await app.store.transaction { tx -> [String: String] in
                var bound: [String: String] = [:]
                for sessionID in sessionIDs {
                    bound[sessionID] = try await tx.session(id: sessionID, forUpdate: false)?.machineID
                }
                return bound
            }) ?? [:]
        for stored in runs {
            if let pinned = stored.pinnedMachineID {
                targets.insert(pinned)
            } else if let sessionID = stored.run.sessionID, let machineID = bound[sessionID] {
                targets.insert(machineID)
            } else {
                groups[
                    Group(organizationID: stored.organizationID, poolIDs: stored.run.poolIDs.sorted()), default: 0] +=
                    1
            }
        }
        for (group, count) in groups {
            // Idle machines beyond those polling here are between polls or on other replicas.
            let idle =
                (try? await app.store.transaction {
                    try await $0.idleMachineIDs(
                        organizationID: group.organizationID, poolIDs: group.poolIDs, limit: count * 4 + 16)
                }) ?? []
            var wanted = count
            for machineID in idle where wanted > 0 && waiting.contains(machineID) && !targets.contains(machineID) {
                targets.insert(machineID)
                wanted -= 1
            }
        }
        for machineID in targets where waiting.contains(machineID) { app.hub.wakeHere(machineID) }
    }
}
