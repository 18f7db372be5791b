import CyberdeskAPI
import FoundationEssentials

/// Computer commands (`/v1/computer/...`) on one server or across replicas.
///
/// On one server the hub carries a command to the machine's poll and its result back. With
/// replicas the API call and the machine's poll may reach different servers, so the command
/// is also written to the shared database: every replica's poll of that machine takes it from
/// there (`pendingFromOtherReplicas`), the replica that receives the result stores it and
/// wakes `result:<id>` on every replica (`complete`), and the waiting replica reads it. The
/// hub path stays, so a machine polling the same replica answers without the round trip.
enum CommandRelay {
    static func submit(
        _ command: AgentCommand, to machineID: String, app: ControlPlane, timeout: Duration
    ) async throws -> CommandResult {
        guard app.store.cluster != nil else {
            return try await app.hub.submit(command, to: machineID, timeout: timeout)
        }
        let id = command.commandID
        let time = app.now()
        try await app.store.transaction { try await $0.insertCommand(command, machineID: machineID, at: time) }
        defer {
            Task { try? await app.store.transaction { try await $0.deleteCommand(id: id) } }
        }
        return try await withThrowingTaskGroup(of: CommandResult.self) { group in
            // Answered here, or the timeout (gateway timeout) for both paths.
            group.addTask { try await app.hub.submit(command, to: machineID, timeout: timeout) }
            // Answered through another replica.
            group.addTask {
                let wakeID = resultWakeID(id)
                while true {
                    let stamp = app.hub.stamp(wakeID)
                    if let result = try await app.store.transaction({ try await $0.commandResult(id: id) }) {
                        return result
                    }
                    await app.hub.wait(wakeID, stamp: stamp, timeout: .seconds(1))
                    try Task.checkCancellation()
                }
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() else { throw CancellationError() }
            return result
        }
    }

    /// Commands for the machine submitted on other replicas, for its poll.
    static func pendingFromOtherReplicas(machineID: String, app: ControlPlane) async throws -> [AgentMessage] {
        guard app.store.cluster != nil else { return [] }
        let time = app.now()
        let redeliverBefore = time.addingTimeInterval(-MachineHub.redeliveryInterval.seconds)
        return try await app.store.transaction {
            try await $0.takeCommands(machineID: machineID, deliveredBefore: redeliverBefore, at: time)
        }.map { AgentMessage(id: $0.commandID, type: .command, command: $0) }
    }

    /// Takes a result from the machine; false when no replica waits for it.
    static func complete(commandID: String, machineID: String, result: CommandResult, app: ControlPlane) async throws
        -> Bool
    {
        if app.hub.complete(commandID: commandID, machineID: machineID, result: result) { return true }
        guard app.store.cluster != nil else { return false }
        let time = app.now()
        let stored = try await app.store.transaction {
            try await $0.completeCommand(id: commandID, machineID: machineID, result: result, at: time)
        }
        if stored { app.hub.wake(resultWakeID(commandID)) }
        return stored
    }

    static func resultWakeID(_ commandID: String) -> String { "result:\(commandID)" }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
