import CyberdeskAPI
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// What the simulated agents saw, per run id, for the measurements and the
/// lost-or-twice check: when each offer and cancel arrived, how many times each run was
/// claimed, started (= executed) and completed.
final class Ledger: Sendable {
    struct State {
        var offers: [String: ContinuousClock.Instant] = [:]
        var cancels: [String: ContinuousClock.Instant] = [:]
        var claims: [String: Int] = [:]
        var starts: [String: Int] = [:]
        var completes: [String: Int] = [:]
        var completedCount = 0
        var lastCompletion: ContinuousClock.Instant?
        var waiters: [String: [CheckedContinuation<ContinuousClock.Instant, Never>]] = [:]
        var errors: [String: Int] = [:]
    }

    let state = Mutex(State())

    private func key(_ kind: String, _ runID: String) -> String { kind + ":" + runID }

    func offered(_ runID: String, at time: ContinuousClock.Instant) {
        let waiters = state.withLock { state -> [CheckedContinuation<ContinuousClock.Instant, Never>] in
            guard state.offers[runID] == nil else { return [] }
            state.offers[runID] = time
            return state.waiters.removeValue(forKey: key("offer", runID)) ?? []
        }
        for waiter in waiters { waiter.resume(returning: time) }
    }

    func cancelSeen(_ runID: String, at time: ContinuousClock.Instant) {
        let waiters = state.withLock { state -> [CheckedContinuation<ContinuousClock.Instant, Never>] in
            guard state.cancels[runID] == nil else { return [] }
            state.cancels[runID] = time
            return state.waiters.removeValue(forKey: key("cancel", runID)) ?? []
        }
        for waiter in waiters { waiter.resume(returning: time) }
    }

    func started(_ runID: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<ContinuousClock.Instant, Never>] in
            state.starts[runID, default: 0] += 1
            return state.waiters.removeValue(forKey: key("start", runID)) ?? []
        }
        for waiter in waiters { waiter.resume(returning: .now) }
    }

    func claimed(_ runID: String) { state.withLock { $0.claims[runID, default: 0] += 1 } }

    func completed(_ runID: String) {
        state.withLock {
            $0.completes[runID, default: 0] += 1
            $0.completedCount += 1
            $0.lastCompletion = .now
        }
    }

    /// HTTP calls per endpoint (the last path component before the query, ids dropped).
    let calls = Mutex<[String: Int]>([:])

    func count(_ path: String) {
        let trimmed = path.split(separator: "?").first ?? ""
        let name = trimmed.split(separator: "/").last.map(String.init) ?? ""
        calls.withLock { $0[name, default: 0] += 1 }
    }

    func error(_ what: String) { state.withLock { $0.errors[what, default: 0] += 1 } }

    var completedCount: Int { state.withLock { $0.completedCount } }

    /// Waits until the event ("offer", "cancel", "start") is seen for the run; returns when.
    func wait(for kind: String, runID: String) async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let seen = state.withLock { state -> ContinuousClock.Instant? in
                let known: ContinuousClock.Instant? =
                    switch kind {
                    case "offer": state.offers[runID]
                    case "cancel": state.cancels[runID]
                    case "start": state.starts[runID] != nil ? ContinuousClock.now : nil
                    default: nil
                    }
                if let known { return known }
                state.waiters[key(kind, runID), default: []].append(continuation)
                return nil
            }
            if let seen { continuation.resume(returning: seen) }
        }
    }

    /// Waits for the event with a deadline; nil when it did not come.
    func wait(for kind: String, runID: String, timeout: Duration) async -> ContinuousClock.Instant? {
        await withTaskGroup(of: ContinuousClock.Instant?.self) { group in
            group.addTask { await self.wait(for: kind, runID: runID) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            if first == nil {
                // Release the waiter that will never be resumed by an event.
                let stale = state.withLock { $0.waiters.removeValue(forKey: key(kind, runID)) ?? [] }
                for waiter in stale { waiter.resume(returning: .now) }
            }
            return first
        }
    }
}

/// Where an agent or the API talks to: one server replica.
struct Endpoint: Sendable, Hashable {
    var host: String
    var port: Int
}

/// An agent's connection, opened on first use and opened again after an error.
final class Link: @unchecked Sendable {
    private let endpoint: Mutex<Endpoint>
    private let connection = Mutex<HTTPConnection?>(nil)
    let group: any EventLoopGroup
    let ledger: Ledger?

    init(endpoint: Endpoint, group: any EventLoopGroup, ledger: Ledger? = nil) {
        self.endpoint = Mutex(endpoint)
        self.group = group
        self.ledger = ledger
    }

    func retarget(_ endpoint: Endpoint) {
        self.endpoint.withLock { $0 = endpoint }
        close()
    }

    func close() {
        let old = connection.withLock { connection -> HTTPConnection? in
            defer { connection = nil }
            return connection
        }
        old?.close()
    }

    func send(
        _ method: HTTPMethod, _ path: String, bearer: String?, body: [UInt8]? = nil,
        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(30)
    ) async throws -> HTTPConnection.Response {
        ledger?.count((method == .GET ? "GET " : "") + path)
        var current = connection.withLock { $0 }
        if current == nil || current?.isActive == false {
            let target = endpoint.withLock { $0 }
            let fresh = try await HTTPConnection.connect(host: target.host, port: target.port, group: group)
            connection.withLock { $0 = fresh }
            current = fresh
        }
        do {
            return try await current!.send(method, path, bearer: bearer, body: body, headers: headers, timeout: timeout)
        } catch {
            close()
            throw error
        }
    }
}

/// An HTTP status the bench did not expect.
struct HTTPStatusError: Error, CustomStringConvertible {
    var status: Int
    var path: String
    var body: String
    var description: String { "HTTP \(status) for \(path): \(body.prefix(300))" }
    /// Worth retrying: the server is restarting or overloaded.
    var isTransient: Bool { status >= 500 || status == 429 }
}

let encoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return encoder
}()

func decode<T: Decodable>(_ type: T.Type, _ response: HTTPConnection.Response, path: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(response.body))
    } catch {
        throw HTTPStatusError(status: response.status, path: path, body: "undecodable: \(error)")
    }
}

func check(_ response: HTTPConnection.Response, _ path: String) throws {
    guard (200..<300).contains(response.status) else {
        throw HTTPStatusError(
            status: response.status, path: path, body: String(decoding: response.body, as: UTF8.self))
    }
}

/// Full-jitter exponential backoff, as the real agent's `Backoff` (base 1 s, cap 60 s).
struct Jitter {
    var base: Double
    var cap: Double
    var attempt = 0
    mutating func next() -> Double {
        let ceiling = min(cap, base * pow(2, Double(attempt)))
        attempt += 1
        return Double.random(in: 0...ceiling)
    }
    mutating func reset() { attempt = 0 }
}

/// One simulated machine on a **null desktop**: it speaks the real agent protocol over
/// loopback HTTP exactly as `cyberdesk-agent` does (register, connect, long-poll with
/// acks, claim with `Idempotency-Key`, start, a heartbeat with `step_index` at every step,
/// the previous step's history events, complete with retries, reconnect with
/// `active_run`), but its desktop does nothing: every step returns at once, except `wait`,
/// which sleeps (in heartbeat-sized slices) so runs can be held open for the cancel and
/// lost-machine measurements.
final class SimulatedAgent: @unchecked Sendable {
    struct Current {
        var runID: String
        var lease: String
        var task: Task<Void, Never>?
    }

    let index: Int
    let fingerprint: String
    let ledger: Ledger
    let pollLink: Link
    let runLink: Link
    let pollWait: Int
    private(set) var machineID = ""
    private(set) var token = ""
    private let current = Mutex<Current?>(nil)
    private let killed = Atomic<Bool>(false)
    private let pollTask = Mutex<Task<Void, Never>?>(nil)
    /// Seconds between heartbeats while a step waits (the server's `heartbeat_s`).
    private let heartbeatSeconds = Atomic<Int>(10)
    /// When the last successful heartbeat was answered (for the lost-machine measurement).
    let lastHeartbeat = Mutex<ContinuousClock.Instant?>(nil)
    /// True while the poll loop has a poll outstanding.
    let polling = Atomic<Bool>(false)

    init(index: Int, runTag: String, endpoint: Endpoint, group: any EventLoopGroup, ledger: Ledger, pollWait: Int) {
        self.index = index
        self.fingerprint = "bench-\(runTag)-\(index)"
        self.ledger = ledger
        self.pollWait = pollWait
        pollLink = Link(endpoint: endpoint, group: group, ledger: ledger)
        runLink = Link(endpoint: endpoint, group: group, ledger: ledger)
    }

    var isBusy: Bool { current.withLock { $0 != nil } }
    var currentRunID: String? { current.withLock { $0?.runID } }

    func register(credential: String, pools: [String]) async throws {
        let body = try encoder.encode(
            AgentRegisterRequest(
                fingerprint: fingerprint, name: "null-desktop-\(index)", hostname: "bench-\(index)",
                osInfo: "null desktop", version: "server-bench", display: DisplaySize(width: 1920, height: 1080),
                pools: pools.isEmpty ? nil : pools))
        let response = try await runLink.send(.POST, "/v1/agent/register", bearer: credential, body: Array(body))
        try check(response, "/v1/agent/register")
        runLink.close()
        let registered = try decode(AgentRegisterResponse.self, response, path: "register")
        machineID = registered.machineID
        token = registered.machineToken
    }

    /// Starts the connect + long-poll loop; returns once the first connect succeeded.
    func start() async throws {
        let connected = try await connect()
        let task = Task { await self.pollLoop(first: connected) }
        pollTask.withLock { $0 = task }
    }

    /// Kills the agent as `kill -9` would: no more calls of any kind, sockets closed.
    func kill() {
        killed.store(true, ordering: .sequentiallyConsistent)
        pollTask.withLock { $0 }?.cancel()
        current.withLock { $0?.task }?.cancel()
        pollLink.close()
        runLink.close()
    }

    var isKilled: Bool { killed.load(ordering: .sequentiallyConsistent) }

    private func connect() async throws -> AgentConnectResponse {
        let active = current.withLock { run -> HeldRun? in
            guard let run, !run.lease.isEmpty else { return nil }
            return HeldRun(runID: run.runID, leaseToken: run.lease, stepIndex: nil)
        }
        let body = try encoder.encode(
            AgentConnectRequest(
                version: "server-bench", hostname: "bench-\(index)", display: DisplaySize(width: 1920, height: 1080),
                heldRun: nil, activeRun: active))
        let response = try await pollLink.send(.POST, "/v1/agent/connect", bearer: token, body: Array(body))
        try check(response, "/v1/agent/connect")
        let connection = try decode(AgentConnectResponse.self, response, path: "connect")
        heartbeatSeconds.store(connection.heartbeatSeconds, ordering: .relaxed)
        return connection
    }

    private func pollLoop(first: AgentConnectResponse) async {
        var backoff = Jitter(base: 1, cap: 60)
        var connection: AgentConnectResponse? = first
        while !isKilled, !Task.isCancelled {
            do {
                let active: AgentConnectResponse
                if let first = connection { active = first } else { active = try await connect() }
                connection = nil
                backoff.reset()
                var acknowledge: [String] = []
                while !isKilled, !Task.isCancelled {
                    var path = "/v1/agent/poll?connection_id=\(active.connectionID)&wait=\(pollWait)"
                    if !acknowledge.isEmpty { path += "&ack=" + acknowledge.joined(separator: ",") }
                    polling.store(true, ordering: .relaxed)
                    let response = try await pollLink.send(
                        .GET, path, bearer: token, timeout: .seconds(Int64(pollWait) + 20))
                    polling.store(false, ordering: .relaxed)
                    let arrived = ContinuousClock.now
                    acknowledge = []
                    if response.status == 204 { continue }
                    if response.status == 409 { break }  // connection replaced: connect again
                    try check(response, "/v1/agent/poll")
                    let messages = try decode(AgentPollResponse.self, response, path: "poll").messages
                    for message in messages {
                        switch message.type {
                        case .runOffer:
                            guard let runID = message.runID else { continue }
                            ledger.offered(runID, at: arrived)
                            startRun(runID: runID, attempt: message.attempt ?? 1)
                        case .cancel:
                            acknowledge.append(message.id)
                            if let runID = message.runID {
                                ledger.cancelSeen(runID, at: arrived)
                                current.withLock { $0?.runID == runID ? $0?.task : nil }?.cancel()
                            }
                        case .command, .drain:
                            acknowledge.append(message.id)
                        }
                    }
                }
            } catch {
                polling.store(false, ordering: .relaxed)
                if isKilled || Task.isCancelled { return }
                ledger.error("poll: \(Self.kind(of: error))")
                try? await Task.sleep(for: .milliseconds(Int(backoff.next() * 1000)))
            }
        }
    }

    static func kind(of error: any Error) -> String {
        if let status = error as? HTTPStatusError { return "HTTP \(status.status)" }
        if let failure = error as? HTTPConnection.Failure {
            if case .timedOut = failure { return "timeout" }
            return "closed"
        }
        return String(describing: type(of: error))
    }

    /// Takes the run before the claim, so the next poll (which offers it again until it is
    /// claimed) does not start a second execution; one run at a time.
    private func startRun(runID: String, attempt: Int) {
        let taken = current.withLock { current -> Bool in
            guard current == nil, !isKilled else { return false }
            current = Current(runID: runID, lease: "", task: nil)
            return true
        }
        guard taken else { return }
        let task = Task { await self.execute(runID: runID, attempt: attempt) }
        current.withLock { if $0?.runID == runID { $0?.task = task } }
    }

    private func leaseBody(_ token: String) throws -> [UInt8] {
        Array(try encoder.encode(LeaseRequest(leaseToken: token)))
    }

    /// Retries transient failures (server restarting) a few times, like the real agent.
    private func retrying<T: Sendable>(attempts: Int = 6, _ body: () async throws -> T) async throws -> T {
        var backoff = Jitter(base: 0.5, cap: 8)
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch {
                let transient = (error as? HTTPStatusError)?.isTransient ?? !(error is CancellationError)
                guard transient, attempt < attempts, !isKilled else { throw error }
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int(backoff.next() * 1000)))
            }
        }
    }

    private func execute(runID: String, attempt: Int) async {
        defer {
            // The run's connection is closed after each run, so 10,000 agents hold one socket
            // each when idle (the open-file limit counts both ends on one host).
            runLink.close()
            current.withLock { if $0?.runID == runID { $0 = nil } }
        }
        let base = "/v1/agent/runs/\(runID)"
        let claim: RunClaimResponse
        do {
            let response = try await runLink.send(
                .POST, base + "/claim", bearer: token, body: Array("{}".utf8),
                headers: [("Idempotency-Key", "\(runID):\(attempt)")])
            try check(response, base + "/claim")
            claim = try decode(RunClaimResponse.self, response, path: "claim")
        } catch {
            if !isKilled { ledger.error("claim: \(Self.kind(of: error))") }
            return
        }
        ledger.claimed(runID)
        let lease = claim.leaseToken
        current.withLock { if $0?.runID == runID { $0?.lease = lease } }
        do {
            let response = try await runLink.send(.POST, base + "/start", bearer: token, body: leaseBody(lease))
            try check(response, base + "/start")
        } catch {
            // The real agent abandons a run whose start was refused or not answered.
            if !isKilled { ledger.error("start: \(Self.kind(of: error))") }
            return
        }
        ledger.started(runID)
        var status = RunStatus.success
        var events: [JSONObject] = []
        do {
            for (index, step) in claim.run.steps.enumerated() {
                try Task.checkCancellation()
                // Step start: one heartbeat carrying the step index and the previous step's
                // history events, as the real agent reports them.
                let cancelled = try await heartbeat(base, lease: lease, step: index, events: events)
                events = []
                if cancelled {
                    status = .cancelled
                    break
                }
                let name = step.objectValue?["func_name"]?.stringValue ?? "?"
                if name == "wait", case .array(let args)? = step.objectValue?["args"],
                    let seconds = args.first?.doubleValue
                {
                    if try await hold(base, lease: lease, step: index, seconds: seconds) {
                        status = .cancelled
                        break
                    }
                }
                // The null desktop: every other action succeeds at once and touches nothing.
                events.append([
                    "type": "step", "step_index": .int(Int64(index)), "func_name": .string(name),
                    "status": "success", "desktop": "null",
                ])
            }
            if status == .success, !events.isEmpty { try await sendEvents(base, lease: lease, events: events) }
        } catch is CancellationError {
            status = .cancelled
        } catch let error as HTTPStatusError where error.status == 409 {
            return  // another attempt owns the run: abandon it
        } catch {
            if isKilled { return }
            ledger.error("step: \(Self.kind(of: error))")
            status = .error
        }
        if isKilled { return }
        let request = RunCompleteRequest(
            leaseToken: lease, status: status, outputData: status == .success ? ["desktop": "null"] : nil,
            error: status == .error ? ["null desktop: the server did not answer"] : nil)
        do {
            let body = Array(try encoder.encode(request))
            try await retrying(attempts: 20) {
                let response = try await runLink.send(.POST, base + "/complete", bearer: token, body: body)
                try check(response, base + "/complete")
            }
            ledger.completed(runID)
        } catch {
            if !isKilled { ledger.error("complete: \(Self.kind(of: error))") }
        }
    }

    /// A heartbeat; true when the server asks to cancel.
    private func heartbeat(_ base: String, lease: String, step: Int?, events: [JSONObject] = []) async throws
        -> Bool
    {
        let body = Array(
            try encoder.encode(HeartbeatRequest(leaseToken: lease, stepIndex: step, events: events.isEmpty ? nil : events)))
        let answer = try await retrying {
            let response = try await runLink.send(.POST, base + "/heartbeat", bearer: token, body: body)
            try check(response, base + "/heartbeat")
            return try decode(HeartbeatResponse.self, response, path: "heartbeat")
        }
        lastHeartbeat.withLock { $0 = .now }
        if answer.cancelRequested, let runID = currentRunID {
            ledger.cancelSeen(runID, at: .now)
            return true
        }
        return false
    }

    private func sendEvents(_ base: String, lease: String, events: [JSONObject]) async throws {
        let body = Array(try encoder.encode(RunEventsRequest(leaseToken: lease, events: events)))
        try await retrying {
            let response = try await runLink.send(.POST, base + "/events", bearer: token, body: body)
            try check(response, base + "/events")
        }
    }

    /// A `wait` step: sleeps, with a heartbeat every `heartbeat_s` to keep the lease.
    private func hold(_ base: String, lease: String, step: Int, seconds: Double) async throws -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < end {
            let slice = min(end - .now, .seconds(heartbeatSeconds.load(ordering: .relaxed)))
            try await Task.sleep(for: slice)
            if isKilled { throw CancellationError() }
            if ContinuousClock.now < end, try await heartbeat(base, lease: lease, step: step) { return true }
        }
        return false
    }
}
