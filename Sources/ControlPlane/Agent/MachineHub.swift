import CyberdeskAPI
import FoundationEssentials
import Synchronization

/// Wakes long-polling machines and relays ad-hoc commands to them, in this process.
///
/// With replicas on one PostgreSQL database, wakes and cancel notices are also queued for
/// the other replicas (`nextOutgoing`, sent by `ClusterService` with NOTIFY) and applied
/// here when they come from another replica (`receive`).
///
/// Run offers are not kept here: a poll derives them from the store, so nothing is lost
/// when the server restarts. The hub only says "look again now" (a per-machine generation
/// counter, so a wake between a poll's look and its wait is never missed) and holds what
/// exists only in memory: commands waiting for their machine, and cancel notices (which
/// heartbeats also carry, from the store).
public final class MachineHub: Sendable {
    struct PendingCommand {
        var machineID: String
        var command: AgentCommand
        var continuation: CheckedContinuation<CommandResult, any Error>?
        /// When a poll last carried the command; it is carried again only after
        /// `redeliveryInterval`, in case that poll's answer was lost.
        var deliveredAt: ContinuousClock.Instant?
    }

    /// How long a delivered command waits for its result before a poll carries it again.
    static let redeliveryInterval: Duration = .seconds(10)

    struct State {
        var generations: [String: UInt64] = [:]
        var allGeneration: UInt64 = 0
        /// Waiting polls by machine, so waking one machine does not look at every poll
        /// (10,000 agents long-poll one server).
        var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
        var notices: [String: [AgentMessage]] = [:]
        /// Machines whose last look at the store found nothing for them: the stamp and quiet
        /// epoch of that look, and until when the mark holds.
        var quiet: [String: (stamp: UInt64, epoch: UInt64, until: ContinuousClock.Instant)] = [:]
        /// Bumped by `forgetQuiet`, so a look that began before it cannot mark afterwards.
        var quietEpoch: UInt64 = 0
        var commands: [String: PendingCommand] = [:]
        /// Events for the other replicas, coalesced until sent.
        var outgoing: [String] = []
        var outgoingWaiter: CheckedContinuation<Void, Never>?
        /// Model calls in progress for runs (`plan`), stopped by the run's cancel notice.
        var planning: [String: [UUID: @Sendable () -> Void]] = [:]
    }

    private let state = Mutex(State())
    /// Whether events are queued for other replicas.
    let broadcasting: Bool
    /// Tells this replica's notifications from the others'.
    public let replicaID = String(UUID().uuidString.prefix(8)).lowercased()

    public init(broadcasting: Bool = false) {
        self.broadcasting = broadcasting
    }

    /// A stamp to pass to `wait`: the machine's generation plus the all-machines one.
    public func stamp(_ machineID: String) -> UInt64 {
        state.withLock { ($0.generations[machineID] ?? 0) &+ $0.allGeneration }
    }

    /// Wakes the machine's poll (a run was pinned to it, cancelled, or a command came).
    public func wake(_ machineID: String) {
        wakeHere(machineID)
        publish("w:\(machineID)")
    }

    /// Wakes the machine's poll on this replica only.
    public func wakeHere(_ machineID: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generations[machineID, default: 0] &+= 1
            return Array((state.waiters.removeValue(forKey: machineID) ?? [:]).values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Wakes every waiting machine (a run any of them might take was created).
    public func wakeAll() {
        wakeAllHere()
        publish("a")
    }

    /// Wakes every poll of this replica only (the fallback poll of the queue does this).
    public func wakeAllHere() {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.allGeneration &+= 1
            defer { state.waiters.removeAll() }
            return state.waiters.values.flatMap(\.values)
        }
        for continuation in woken { continuation.resume() }
    }

    // MARK: Quiet machines

    /// How long "nothing for this machine" is trusted without a wake: a safety net for a
    /// change that makes the machine eligible for waiting work and wakes nobody (the queue
    /// check also plans waiting runs again every few seconds). Each mark holds a random
    /// time in this range, so machines that joined together do not all look at once when
    /// their marks end.
    static let quietLimit: ClosedRange<Double> = 90...150

    /// What a poll needs before it looks at the store: the wake stamp, the quiet epoch, and
    /// whether the machine is quiet — nothing changed for it since a look found nothing: no
    /// wake since (a run pinned to it, a run it may take, a command, its run ended, it
    /// connected), no change to machines or pools, and within `quietLimit`. An idle
    /// machine's poll renewal then waits without looking at the store again (10,000 agents
    /// renew 400 polls a second). One lock, so a wake cannot fall between the parts.
    public func look(_ machineID: String) -> (stamp: UInt64, epoch: UInt64, quiet: Bool) {
        state.withLock { state in
            let stamp = (state.generations[machineID] ?? 0) &+ state.allGeneration
            guard let quiet = state.quiet[machineID] else { return (stamp, state.quietEpoch, false) }
            let isQuiet =
                quiet.stamp == stamp && quiet.epoch == state.quietEpoch && ContinuousClock.now < quiet.until
            return (stamp, state.quietEpoch, isQuiet)
        }
    }

    /// Records that a look at the store, begun at `stamp` and `epoch` (`look`), found
    /// nothing for the machine.
    public func markQuiet(_ machineID: String, stamp: UInt64, epoch: UInt64) {
        state.withLock { state in
            guard epoch == state.quietEpoch else { return }
            let holds = Duration.milliseconds(Int64(Double.random(in: Self.quietLimit) * 1000))
            state.quiet[machineID] = (stamp, epoch, .now + holds)
        }
    }

    /// Forgets every quiet mark, here and on the other replicas: machines or pools changed,
    /// so a machine may now take waiting work that woke nobody.
    public func forgetQuiet() {
        forgetQuietHere()
        publish("r")
    }

    public func forgetQuietHere() {
        state.withLock { state in
            state.quiet.removeAll()
            state.quietEpoch &+= 1
        }
    }

    /// Forgets one machine's quiet mark (it was seen again after being marked disconnected).
    public func forgetQuiet(_ machineID: String) { _ = state.withLock { $0.quiet.removeValue(forKey: machineID) } }

    /// The machines with a poll waiting on this replica.
    public func waitingMachineIDs() -> Set<String> { state.withLock { Set($0.waiters.keys) } }

    public var hasWaitingPolls: Bool { state.withLock { !$0.waiters.isEmpty } }

    /// Tells the other replicas that runs are waiting that their polls may take
    /// (`WakePlanner` decides which).
    public func publishQueueChanged() { publish("q") }

    /// Whether `payload` is another replica's `publishQueueChanged`.
    public func isQueueChange(_ payload: String) -> Bool {
        payload.hasSuffix(" q") && !payload.hasPrefix(replicaID + " ")
    }

    /// Waits until the machine is woken, `timeout` passes, or the task is cancelled.
    /// Returns at once when the stamp is already stale.
    public func wait(_ machineID: String, stamp: UInt64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForWake(machineID, stamp: stamp) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForWake(_ machineID: String, stamp: UInt64) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    let current = (state.generations[machineID] ?? 0) &+ state.allGeneration
                    if current != stamp || Task.isCancelled { return true }
                    state.waiters[machineID, default: [:]][id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                let waiter = state.waiters[machineID]?.removeValue(forKey: id)
                if state.waiters[machineID]?.isEmpty == true { state.waiters[machineID] = nil }
                return waiter
            }
            waiter?.resume()
        }
    }

    /// Tells the machine's agent to stop the run: a cancel notice for its next poll, here
    /// and on the other replicas.
    public func cancel(runID: String, on machineID: String) { post(Self.cancelNotice(runID), to: machineID) }

    /// Runs `body` (a model call for the run) so that the run's cancel notice, here or from
    /// another replica, cancels it at once: a cancelled run stops spending tokens within a
    /// second even while the model thinks.
    public func planning<T: Sendable>(runID: String, _ body: @escaping @Sendable () async -> T) async -> T {
        // Registered before the task exists, so a cancel between the two is not lost; `body`
        // looks at the run once more after it starts (a cancel committed earlier).
        let handle = Mutex<(cancelled: Bool, task: Task<T, Never>?)>((false, nil))
        let key = UUID()
        state.withLock {
            $0.planning[runID, default: [:]][key] = {
                handle.withLock { handle in
                    handle.cancelled = true
                    handle.task?.cancel()
                }
            }
        }
        defer {
            state.withLock { state in
                state.planning[runID]?[key] = nil
                if state.planning[runID]?.isEmpty == true { state.planning[runID] = nil }
            }
        }
        let task = Task { await body() }
        if handle.withLock({ handle -> Bool in
            handle.task = task
            return handle.cancelled
        }) {
            task.cancel()
        }
        return await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }

    static func cancelNotice(_ runID: String) -> AgentMessage {
        AgentMessage(id: "cancel:\(runID)", type: .cancel, runID: runID)
    }

    /// Queues a message (cancel, drain) for the machine's next poll and wakes it.
    public func post(_ message: AgentMessage, to machineID: String) {
        postHere(message, to: machineID)
        if message.type == .cancel, let runID = message.runID { publish("c:\(runID):\(machineID)") }
    }

    private func postHere(_ message: AgentMessage, to machineID: String) {
        if message.type == .cancel, let runID = message.runID {
            let stops = state.withLock { $0.planning.removeValue(forKey: runID).map { Array($0.values) } ?? [] }
            for stop in stops { stop() }
        }
        state.withLock { state in
            if !(state.notices[machineID] ?? []).contains(where: { $0.id == message.id }) {
                state.notices[machineID, default: []].append(message)
            }
        }
        wakeHere(machineID)
    }

    // MARK: Other replicas

    private func publish(_ event: String) {
        guard broadcasting else { return }
        let payload = "\(replicaID) \(event)"
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.outgoing.contains(payload) { state.outgoing.append(payload) }
            defer { state.outgoingWaiter = nil }
            return state.outgoingWaiter
        }
        waiter?.resume()
    }

    /// Waits for events to send to the other replicas and takes them all, coalesced: one
    /// "wake all" stands for every wake queued with it. Empty when the task is cancelled.
    public func nextOutgoing() async -> [String] {
        while !Task.isCancelled {
            let events = state.withLock { state -> [String] in
                defer { state.outgoing.removeAll() }
                return state.outgoing
            }
            if !events.isEmpty {
                let all = "\(replicaID) a"
                guard events.contains(all) else { return events }
                return [all] + events.filter { $0.hasPrefix("\(replicaID) c:") }
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.outgoing.isEmpty || Task.isCancelled { return true }
                        state.outgoingWaiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.outgoingWaiter = nil }
                    return state.outgoingWaiter
                }
                waiter?.resume()
            }
        }
        return []
    }

    /// Applies an event another replica sent; this replica's own events are ignored.
    public func receive(_ payload: String) {
        let parts = payload.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] != replicaID else { return }
        let event = parts[1]
        if event == "a" {
            wakeAllHere()
        } else if event == "r" {
            forgetQuietHere()
        } else if event.hasPrefix("w:") {
            wakeHere(String(event.dropFirst(2)))
        } else if event.hasPrefix("c:") {
            let ids = event.dropFirst(2).split(separator: ":").map(String.init)
            guard ids.count == 2 else { return }
            postHere(Self.cancelNotice(ids[0]), to: ids[1])
        }
    }

    /// Messages waiting for the machine: notices, then commands not yet answered.
    /// Messages stay until acknowledged (or answered), so a lost poll answer is redelivered;
    /// a command is carried again only when its result is overdue.
    public func pending(for machineID: String) -> [AgentMessage] {
        let now = ContinuousClock.now
        return state.withLock { state in
            var commands: [AgentMessage] = []
            for (id, pending) in state.commands where pending.machineID == machineID {
                if let delivered = pending.deliveredAt, now - delivered < Self.redeliveryInterval { continue }
                state.commands[id]?.deliveredAt = now
                commands.append(AgentMessage(id: id, type: .command, command: pending.command))
            }
            return (state.notices[machineID] ?? []) + commands.sorted { $0.id < $1.id }
        }
    }

    /// Drops acknowledged notices.
    public func acknowledge(_ ids: Set<String>, machineID: String) {
        guard !ids.isEmpty else { return }
        state.withLock { $0.notices[machineID]?.removeAll { ids.contains($0.id) } }
    }

    /// Sends a command to the machine and waits for its result, at most `timeout`.
    public func submit(_ command: AgentCommand, to machineID: String, timeout: Duration) async throws
        -> CommandResult
    {
        let id = command.commandID
        defer { _ = state.withLock { $0.commands.removeValue(forKey: id) } }
        return try await withThrowingTaskGroup(of: CommandResult?.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        self.state.withLock { state in
                            state.commands[id] = PendingCommand(
                                machineID: machineID, command: command, continuation: continuation)
                        }
                        self.wake(machineID)
                    }
                } onCancel: {
                    let pending = self.state.withLock { $0.commands.removeValue(forKey: id) }
                    pending?.continuation?.resume(throwing: CancellationError())
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw ControlPlaneError.gatewayTimeout(
                    "machine \(machineID) did not answer the command within \(timeout.components.seconds) s")
            }
            return result
        }
    }

    /// Delivers a command's result from its machine; false when nobody waits for it (any
    /// more) or it belongs to another machine.
    public func complete(commandID: String, machineID: String, result: CommandResult) -> Bool {
        let pending = state.withLock { state -> PendingCommand? in
            guard state.commands[commandID]?.machineID == machineID else { return nil }
            return state.commands.removeValue(forKey: commandID)
        }
        guard let continuation = pending?.continuation else { return false }
        continuation.resume(returning: result)
        return true
    }
}

/// What a machine answered to a command.
public struct CommandResult: Sendable {
    public var contentType: String
    public var body: [UInt8]
    /// The agent's own status for the action (200 ok, 400 bad params, 500 failure...).
    public var status: Int

    public init(contentType: String, body: [UInt8], status: Int) {
        self.contentType = contentType
        self.body = body
        self.status = status
    }
}
