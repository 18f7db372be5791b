import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import Planner
import ServiceLifecycle

/// `/v1/agent/...`: the machine side of the protocol (AGENT-PROTOCOL.md; the final shapes
/// are in docs/AGENT-PROTOCOL.md).
struct AgentController {
    func register(_ api: APIRouter) {
        let app = api.app

        // Registration is the one agent call authorized by an API key or a one-time token.
        api.router.post("/v1/agent/register") { request, context -> Response in
            do {
                let body = try await APIRouter.collect(
                    request,
                    route: APIRouter.Route(
                        method: .post, path: "/v1/agent/register", maxBody: app.limits.maxBody(.small)))
                let call = APICall(request: request, context: context, organizationID: "", body: body, app: app)
                return try await Self.registerMachine(call, credential: try APIRouter.bearer(request)).response()
            } catch {
                return APIResponse.from(error: error).response()
            }
        }

        api.addAgent(.post, "/v1/agent/connect") { call in try await Self.connect(call) }
        api.addAgent(.get, "/v1/agent/poll") { call in try await Self.poll(call) }
        api.addAgent(.post, "/v1/agent/disconnect") { call in
            try await Self.closeConnections(of: call.machine, except: nil, app: call.app)
            try await call.app.store.transaction { tx in
                guard
                    var machine = try await tx.fetch(
                        Machine.self, id: call.machineID, organizationID: nil, forUpdate: true)
                else { return }
                machine.status = .disconnected
                try await tx.save(machine)
            }
            return .empty
        }
        api.addAgent(.post, "/v1/agent/runs/:id/claim") { call in try await Self.claim(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/start") { call in try await Self.start(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/heartbeat") { call in try await Self.heartbeat(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/secrets/:name") { call in try await Self.secret(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/events") { call in try await Self.events(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/images", streaming: true) { call in try await Self.image(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/attachments", streaming: true) { call in
            try await Self.upload(call)
        }
        // A plan call and a completion carry the run's output_data (a read_file may put
        // 10 MiB in it), so they take bodies as large as the routes where files travel.
        api.addAgent(.post, "/v1/agent/runs/:id/plan", maxBody: app.limits.maxBody(.files)) { call in
            try await Self.plan(call)
        }
        api.addAgent(.post, "/v1/agent/runs/:id/same-screen") { call in try await Self.sameScreen(call) }
        api.addAgent(.post, "/v1/agent/runs/:id/complete", maxBody: app.limits.maxBody(.files)) { call in
            try await Self.complete(call)
        }
        api.addAgent(.get, "/v1/agent/attachments/:id/content") { call in try await Self.content(call) }
        api.addAgent(.post, "/v1/agent/commands/:id/result", maxBody: app.limits.maxFileBytes) { call in
            let id = try call.api.id()
            let status = call.api.request.headers[HTTPField.Name("X-Command-Status")!].flatMap(Int.init) ?? 200
            let result = CommandResult(
                contentType: call.api.request.headers[.contentType] ?? "application/json", body: call.api.body,
                status: status)
            guard
                try await CommandRelay.complete(commandID: id, machineID: call.machineID, result: result, app: call.app)
            else {
                throw ControlPlaneError.notFound(
                    "command \(id) is not waiting for a result (it timed out or was answered)")
            }
            return .empty
        }
    }

    // MARK: Registration and connections

    static func registerMachine(_ call: APICall, credential: String) async throws -> APIResponse {
        let request = try call.decode(AgentRegisterRequest.self)
        guard !request.fingerprint.isEmpty, request.fingerprint.utf8.count <= 200 else {
            throw RequestValidationError(
                loc: ["body", "fingerprint"], msg: "String should have 1 to 200 characters", type: "string_too_short")
        }
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let machineToken = Credentials.generate(prefix: "cdm_")
        let hash = Credentials.hash(credential)
        let machine = try await app.store.transaction { tx -> Machine in
            var organizationID: String
            var poolNames = request.pools ?? []
            if credential.hasPrefix("cdt_") {
                guard var token = try await tx.registrationToken(hash: hash), token.usedAt == nil,
                    token.revokedAt == nil, token.expiresAt > time
                else {
                    throw ControlPlaneError.unauthorized(
                        "the registration token is unknown, expired, revoked or already used; create a new one with 'cyberdesk-server tokens create'"
                    )
                }
                token.usedAt = time
                try await tx.saveRegistrationToken(token)
                organizationID = token.organizationID
                poolNames += token.poolNames
            } else {
                guard let key = try await tx.apiKey(hash: hash), key.revokedAt == nil else {
                    throw ControlPlaneError.unauthorized("invalid or revoked API key")
                }
                organizationID = key.organizationID
            }
            var machine: Machine
            if let existing = try await tx.machine(fingerprint: request.fingerprint, organizationID: organizationID) {
                machine = existing
            } else {
                machine = Machine(
                    id: UUIDText.new(), organizationID: organizationID, fingerprint: request.fingerprint,
                    unkeyKeyID: "cyberdesk-agent", name: request.name ?? request.hostname, version: request.version,
                    hostname: request.hostname, osInfo: request.osInfo, status: .disconnected, isAvailable: true,
                    alertsEnabled: false, machineParameters: nil, machineSensitiveParameters: nil,
                    reservedSessionID: nil, lastSeen: time, createdAt: time)
                try await tx.insert(machine)
            }
            if let name = request.name { machine.name = name }
            machine.hostname = request.hostname ?? machine.hostname
            machine.osInfo = request.osInfo ?? machine.osInfo
            machine.version = request.version ?? machine.version
            try await tx.save(machine)
            try await tx.setMachineToken(hash: Credentials.hash(machineToken), machineID: machine.id)
            for name in RunFactory.unique(poolNames) where !name.isEmpty {
                let pool = try await Self.pool(named: name, organizationID: organizationID, at: time, in: tx)
                try await tx.addMachines([machine.id], toPool: pool.id)
            }
            return machine
        }
        app.logger.info(
            "machine registered", metadata: ["machine.id": "\(machine.id)", "org.id": "\(machine.organizationID)"])
        return try .json(AgentRegisterResponse(machineID: machine.id, machineToken: machineToken))
    }

    static func pool(named name: String, organizationID: String, at time: Date, in tx: any StoreTransaction)
        async throws -> Pool
    {
        if let pool = try await tx.list(
            Pool.self, organizationID: organizationID, filters: [.equals("name", .text(name))], order: .oldestFirst,
            skip: 0, limit: 1
        ).items.first {
            return pool
        }
        let pool = Pool(
            id: UUIDText.new(), organizationID: organizationID, name: name, description: nil, poolParameters: nil,
            poolSensitiveParameters: nil, machineCount: 0, createdAt: time, updatedAt: time)
        try await tx.insert(pool)
        return pool
    }

    static func connect(_ call: AgentCall) async throws -> APIResponse {
        let request =
            call.api.body.isEmpty
            ? AgentConnectRequest(version: nil, hostname: nil, display: nil)
            : try call.api.decode(AgentConnectRequest.self)
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let connection = Connection(
            id: UUIDText.new(), organizationID: call.organizationID, websocketID: UUIDText.new(),
            machineID: call.machineID, connectedAt: time, disconnectedAt: nil, lastPing: time, status: .connected,
            ipAddress: call.api.request.headers[HTTPField.Name("X-Forwarded-For")!],
            userAgent: call.api.request.headers[.userAgent])
        try await closeConnections(of: call.machine, except: nil, app: app)
        let timing = app.agentTiming
        try await app.store.transaction { tx in
            try await tx.insert(connection)
            guard
                var machine = try await tx.fetch(Machine.self, id: call.machineID, organizationID: nil, forUpdate: true)
            else { throw ControlPlaneError.unauthorized("machine \(call.machineID) was deleted") }
            machine.status = .connected
            machine.lastSeen = time
            if let version = request.version { machine.version = version }
            if let hostname = request.hostname { machine.hostname = hostname }
            try await tx.save(machine)
            // Runs held by earlier connections: the one this process still executes moves to
            // the new connection; the rest were interrupted.
            for var stored in try await tx.activeRuns(onMachine: machine.id) where stored.leaseToken != nil {
                if let active = request.activeRun, active.runID == stored.id, active.leaseToken == stored.leaseToken {
                    stored.connectionID = connection.id
                    stored.leaseExpiresAt = time.addingTimeInterval(Double(timing.lease))
                    try await tx.save(stored)
                    continue
                }
                let held = request.heldRun?.runID == stored.id ? request.heldRun : nil
                try await interrupt(
                    &stored, reason: "agent restarted", stepIndex: held?.stepIndex ?? stored.stepIndex, at: time, in: tx
                )
            }
        }
        app.hub.wake(call.machineID)
        app.logger.info(
            "machine connected",
            metadata: ["machine.id": "\(call.machineID)", "connection.id": "\(connection.id)"])
        return try .json(
            AgentConnectResponse(
                connectionID: connection.id, machineID: call.machineID, pollWaitSeconds: timing.pollWait,
                leaseSeconds: timing.lease, heartbeatSeconds: timing.heartbeat))
    }

    /// A run whose machine lost it: not started → back to the queue; started → `error`.
    static func interrupt(
        _ stored: inout StoredRun, reason: String, stepIndex: Int?, at time: Date, in tx: any StoreTransaction
    ) async throws {
        if stored.run.status == .scheduling {
            stored.assignedMachineID = nil
            stored.run.machineID = stored.pinnedMachineID
            stored.offeredAt = nil
            stored.leaseToken = nil
            stored.leaseExpiresAt = nil
            stored.connectionID = nil
            try await tx.save(stored)
            return
        }
        let step = stepIndex.map { " during step \($0)" } ?? ""
        try await Scheduler.end(
            &stored, status: .error, errors: ["\(reason)\(step); the run was not completed (retry it to run again)"],
            output: nil, at: time, in: tx)
    }

    static func closeConnections(of machine: Machine, except keep: String?, app: ControlPlane) async throws {
        let time = Timestamp.truncated(app.now())
        try await app.store.transaction { tx in
            let open = try await tx.list(
                Connection.self, organizationID: machine.organizationID,
                filters: [.equals("machine_id", .text(machine.id)), .equals("status", .text("connected"))],
                order: .oldestFirst, skip: 0, limit: 1000)
            for var connection in open.items where connection.id != keep {
                connection.status = .disconnected
                connection.disconnectedAt = time
                try await tx.save(connection)
            }
        }
    }

    // MARK: Long-poll

    static func poll(_ call: AgentCall) async throws -> APIResponse {
        let app = call.app
        guard let connectionID = try call.api.queryUUID("connection_id") else {
            throw RequestValidationError(loc: ["query", "connection_id"], msg: "Field required", type: "missing")
        }
        let wait = try call.api.queryInt("wait", default: app.agentTiming.pollWait, in: 0...60)
        let acknowledged = Set(call.api.queryAll("ack").flatMap { $0.split(separator: ",").map(String.init) })
        app.hub.acknowledge(acknowledged, machineID: call.machineID)
        let draining = try call.api.queryBool("draining") ?? false

        if try await touch(call, connectionID: connectionID) { app.hub.forgetQuiet(call.machineID) }
        let deadline = ContinuousClock.now + .seconds(wait)
        // An idle machine renewing its poll: when its last look found nothing and nothing
        // changed since (`MachineHub.look`), the renewal does not look for an offer again.
        var first = true
        while true {
            let (stamp, epoch, quiet) = app.hub.look(call.machineID)
            let look = !(first && quiet)
            first = false
            var messages = app.hub.pending(for: call.machineID)
            // Commands of other replicas are read on every renewal: one taken by a poll whose
            // answer was lost is carried again after 10 s, which no wake announces.
            for message in try await CommandRelay.pendingFromOtherReplicas(machineID: call.machineID, app: app)
            where !messages.contains(where: { $0.id == message.id }) {
                messages.append(message)
            }
            if look, !draining, let offer = try await offer(for: call.machineID, app: app) {
                messages.append(offer)
            }
            if !messages.isEmpty { return try .json(AgentPollResponse(messages: messages)) }
            if look, !draining { app.hub.markQuiet(call.machineID, stamp: stamp, epoch: epoch) }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero || Task.isCancelled || Task.isShuttingDownGracefully { return .empty }
            // A server stopping gracefully waits for open requests: a long poll answers at
            // once instead of holding shutdown for its whole wait.
            try? await cancelWhenGracefulShutdown {
                await app.hub.wait(call.machineID, stamp: stamp, timeout: remaining)
            }
            // Not woken: nothing changed for this machine since the look above, so the poll
            // answers without a second look at the store (the agent's next poll starts with
            // one). An idle poll cycle was six transactions; this saves two.
            if app.hub.stamp(call.machineID) == stamp { return .empty }
        }
    }

    static let touchInterval: Double = 5

    /// Every poll is a heartbeat of the machine: `last_seen`, `connected`, the connection's ping.
    /// True when the machine was not `connected` before (the lease sweeper had marked it
    /// disconnected), so it may now take work nobody woke it for.
    @discardableResult
    static func touch(_ call: AgentCall, connectionID: String) async throws -> Bool {
        let time = Timestamp.truncated(call.app.now())
        return try await call.app.store.transaction { tx -> Bool in
            guard
                var connection = try await tx.fetch(
                    Connection.self, id: connectionID, organizationID: call.organizationID, forUpdate: true),
                connection.machineID == call.machineID
            else { throw ControlPlaneError.notFound("connection \(connectionID) not found; connect again") }
            guard connection.status == .connected else {
                throw ControlPlaneError.conflict(
                    "connection \(connectionID) was replaced by a newer one; connect again")
            }
            // Polls come every few seconds from every machine: write only when the stored
            // times are older than `touchInterval` (far below the disconnect timeout).
            if time.timeIntervalSince(connection.lastPing) >= touchInterval {
                connection.lastPing = time
                try await tx.save(connection)
            }
            guard
                var machine = try await tx.fetch(Machine.self, id: call.machineID, organizationID: nil, forUpdate: true)
            else { return false }
            guard machine.status != .connected || time.timeIntervalSince(machine.lastSeen) >= touchInterval else {
                return false
            }
            let reconnected = machine.status != .connected
            machine.lastSeen = time
            machine.status = .connected
            try await tx.save(machine)
            return reconnected
        }
    }

    /// The run offered to the machine: one already offered and not yet claimed, or the
    /// scheduler's next pick when the machine holds nothing.
    static func offer(for machineID: String, app: ControlPlane) async throws -> AgentMessage? {
        let active = try await app.store.transaction { try await $0.activeRuns(onMachine: machineID) }
        if let offered = active.first(where: { $0.leaseToken == nil && $0.run.status == .scheduling }) {
            return offerMessage(offered)
        }
        if active.contains(where: { $0.leaseToken != nil }) { return nil }
        guard let dispatch = try await app.scheduler.dispatch(toMachine: machineID) else { return nil }
        return offerMessage(dispatch.run)
    }

    static func offerMessage(_ stored: StoredRun) -> AgentMessage {
        AgentMessage(
            id: "offer:\(stored.id):\(stored.attempt)", type: .runOffer, runID: stored.id, attempt: stored.attempt)
    }

    // MARK: Runs

    /// The run, which must be assigned to the calling machine.
    static func assignedRun(_ call: AgentCall, forUpdate: Bool, in tx: any StoreTransaction) async throws -> StoredRun {
        let id = try call.api.id()
        guard
            let stored = try await tx.fetch(
                StoredRun.self, id: id, organizationID: call.organizationID, forUpdate: forUpdate),
            stored.assignedMachineID == call.machineID
        else { throw ControlPlaneError.notFound("run \(id) not found for this machine") }
        return stored
    }

    /// The run, which must be leased to the caller with this token (the fencing check).
    static func leasedRun(_ call: AgentCall, token: String, in tx: any StoreTransaction) async throws -> StoredRun {
        let stored = try await assignedRun(call, forUpdate: true, in: tx)
        guard let lease = stored.leaseToken, lease == token else {
            throw ControlPlaneError.conflict(
                "run \(stored.id): this lease is not held (another attempt owns the run); abandon it")
        }
        return stored
    }

    static func claim(_ call: AgentCall) async throws -> APIResponse {
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let timing = app.agentTiming
        let claimKey = call.api.request.headers[HTTPField.Name("Idempotency-Key")!]
        let (stored, claimed) = try await app.store.transaction { tx -> (StoredRun, RunAssignment?) in
            var stored = try await assignedRun(call, forUpdate: true, in: tx)
            let fresh = stored.leaseToken == nil
            if stored.leaseToken != nil {
                // A retried claim of the same attempt gets the same lease.
                guard claimKey == "\(stored.id):\(stored.attempt)", stored.run.status == .scheduling else {
                    throw ControlPlaneError.conflict("run \(stored.id) is already claimed")
                }
            } else {
                guard stored.run.status == .scheduling else {
                    throw ControlPlaneError.conflict("run \(stored.id) is \(stored.run.status.rawValue), not waiting")
                }
                stored.leaseToken = Credentials.generate(prefix: "lease_")
            }
            stored.leaseExpiresAt = time.addingTimeInterval(Double(timing.lease))
            var work = try await assignment(for: stored, machine: call.machine, in: tx)
            if fresh {
                stored.planner = nil
                stored.sameScreen = nil
            }
            if !work.steps.isEmpty {
                // A replay whose run has a usable model hands over to it when a checkpoint fails.
                if let model = try? await PromptRuns.configurationID(for: stored, app: app, in: tx) {
                    work.fallback = try? await PromptRuns.assignment(
                        configurationID: model, organizationID: stored.organizationID, app: app, in: tx)
                }
                // ...and asks its cache detection model first, when it names one.
                if let model = stored.run.modelMetadata?.cacheDetectionModelID {
                    work.cacheDetection = try? await PromptRuns.assignment(
                        configurationID: model, organizationID: stored.organizationID, app: app, in: tx)
                }
            } else {
                do {
                    if let model = try await PromptRuns.configurationID(for: stored, app: app, in: tx) {
                        work.planner = try await PromptRuns.assignment(
                            configurationID: model, organizationID: stored.organizationID, app: app, in: tx)
                        // Each attempt starts its own conversation; a retried claim keeps it.
                        if stored.planner == nil { stored.planner = PlannerState(configurationID: model) }
                    }
                } catch let problem as ModelResolutionError {
                    // The run names a model that cannot be used: it ends now, saying why,
                    // instead of being offered and refused on every poll.
                    try await Scheduler.end(
                        &stored, status: .error, errors: [problem.description], output: nil, at: time, in: tx)
                    return (stored, nil)
                }
            }
            try await tx.save(stored)
            return (stored, work)
        }
        guard let work = claimed else {
            app.hub.wake(call.machineID)
            await WakePlanner(app: app).wake(afterEnding: stored)
            throw ControlPlaneError.conflict(
                "run \(stored.id) ended: \(stored.run.error?.first ?? "its model cannot be used")")
        }
        app.logger.info(
            "run claimed",
            metadata: ["run.id": "\(stored.id)", "machine.id": "\(call.machineID)", "attempt": "\(stored.attempt)"])
        return try .json(RunClaimResponse(leaseToken: stored.leaseToken ?? "", leaseSeconds: timing.lease, run: work))
    }

    /// What the machine needs to execute the run: never a secret value.
    static func assignment(for stored: StoredRun, machine: Machine, in tx: any StoreTransaction) async throws
        -> RunAssignment
    {
        guard
            let workflow = try await tx.fetch(
                Workflow.self, id: stored.run.workflowID, organizationID: stored.organizationID, forUpdate: false)
        else { throw ControlPlaneError.notFound("workflow \(stored.run.workflowID) was deleted") }
        let trajectory = try await InputCheck.mainTrajectory(of: workflow, in: tx)
        var dimensions: DisplaySize?
        if let width = trajectory?.dimensions["width"]?.intValue,
            let height = trajectory?.dimensions["height"]?.intValue
        {
            dimensions = DisplaySize(width: Int(width), height: Int(height))
        }
        let inputs = try await Scheduler.mergedInputs(run: stored, machine: machine, in: tx)
        let names = try await sensitiveNames(of: stored, machine: machine, in: tx)
        let files = try await tx.attachments(ofRun: stored.id).filter { $0.attachmentType == .input }.map {
            FileInputDescriptor(
                attachmentID: $0.id, filename: $0.filename, targetPath: $0.targetPath, sizeBytes: $0.sizeBytes,
                sha256: $0.sha256, cleanupImportsAfterRun: $0.cleanupImportsAfterRun)
        }
        return RunAssignment(
            runID: stored.id, attempt: stored.attempt, workflowID: workflow.id, workflowName: workflow.name,
            mainPrompt: stored.run.mainPrompt ?? workflow.mainPrompt, includesFileExports: workflow.includesFileExports,
            terminalCommandAllowlist: workflow.terminalCommandAllowlist, steps: trajectory?.trajectoryData ?? [],
            trajectoryID: trajectory?.id, dimensions: dimensions, inputValues: inputs, sensitiveNames: names,
            fileInputs: files, sessionID: stored.run.sessionID)
    }

    /// The secrets a run may type on a machine, by owner in precedence order: the run's
    /// sensitive inputs, the machine's sensitive parameters, then its pools' (the run's pools,
    /// else the machine's).
    static func secretsByOwner(of stored: StoredRun, machineID: String, in tx: any StoreTransaction) async throws
        -> [[VaultSecret]]
    {
        let poolIDs = stored.run.poolIDs.isEmpty ? try await tx.poolIDs(ofMachine: machineID) : stored.run.poolIDs
        var owners: [(VaultSecret.OwnerKind, String)] = [(.run, stored.id), (.machine, machineID)]
        owners += poolIDs.map { (.pool, $0) }
        var secrets: [[VaultSecret]] = []
        for (kind, owner) in owners { secrets.append(try await tx.secrets(ownerKind: kind, ownerID: owner)) }
        return secrets
    }

    /// Names a `{$name}` of the run may fetch on this machine. Never values.
    static func sensitiveNames(of stored: StoredRun, machine: Machine, in tx: any StoreTransaction) async throws
        -> [String]
    {
        Set(try await secretsByOwner(of: stored, machineID: machine.id, in: tx).joined().map(\.name)).sorted()
    }

    static func start(_ call: AgentCall) async throws -> APIResponse {
        let lease = try call.api.decode(LeaseRequest.self)
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let stored = try await app.store.transaction { tx in
            var stored = try await leasedRun(call, token: lease.leaseToken, in: tx)
            switch stored.run.status {
            case .scheduling:
                stored.run.status = .running
                stored.run.startedAt = time
                // Execution begins with step 0: a machine lost before its first heartbeat
                // (heartbeat_s after the start) was lost during step 0, and the error says so.
                stored.stepIndex = 0
            case .running:
                break
            default:
                throw ControlPlaneError.conflict("run \(stored.id) is \(stored.run.status.rawValue); do not start it")
            }
            stored.leaseExpiresAt = time.addingTimeInterval(Double(app.agentTiming.lease))
            try await tx.save(stored)
            return stored
        }
        app.logger.info("run started", metadata: ["run.id": "\(stored.id)", "machine.id": "\(call.machineID)"])
        return try .json(stored.run)
    }

    static func heartbeat(_ call: AgentCall) async throws -> APIResponse {
        let request = try call.api.decode(HeartbeatRequest.self)
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let status = try await app.store.transaction { tx -> RunStatus in
            var stored = try await leasedRun(call, token: request.leaseToken, in: tx)
            // The events of the steps before this one are kept also when the run ended
            // meanwhile (cancelled, or lost by the sweeper), as `/events` would keep them.
            let events = request.events ?? []
            if !events.isEmpty { appendHistory(events, to: &stored) }
            if stored.run.status.isTerminal {
                if !events.isEmpty { try await tx.save(stored) }
                return stored.run.status
            }
            stored.leaseExpiresAt = time.addingTimeInterval(Double(app.agentTiming.lease))
            if let step = request.stepIndex { stored.stepIndex = step }
            try await tx.save(stored)
            return stored.run.status
        }
        if status.isTerminal, status != .cancelled {
            throw ControlPlaneError.conflict("run \(try call.api.id()) has ended (\(status.rawValue)); abandon it")
        }
        return try .json(
            HeartbeatResponse(
                cancelRequested: status == .cancelled, leaseSeconds: app.agentTiming.lease,
                eventsRecorded: request.events.map { _ in true }))
    }

    static func secret(_ call: AgentCall) async throws -> APIResponse {
        let lease = try call.api.decode(LeaseRequest.self)
        let name = call.api.context.parameters.get("name") ?? ""
        let app = call.app
        let value = try await app.store.transaction { tx -> JSONValue in
            let stored = try await leasedRun(call, token: lease.leaseToken, in: tx)
            guard stored.run.status == .running else {
                throw ControlPlaneError.conflict("secrets are available only while the run is running")
            }
            // Run values first, then the machine's, then the pools'.
            for secrets in try await secretsByOwner(of: stored, machineID: call.machineID, in: tx) {
                if let exact = secrets.first(where: { $0.name == name }) { return try app.vault.reveal(exact) }
                let nested = secrets.filter { $0.name.hasPrefix(name + ".") }
                if !nested.isEmpty {
                    var object: JSONObject = [:]
                    for secret in nested {
                        object[String(secret.name.dropFirst(name.count + 1))] = try app.vault.reveal(secret)
                    }
                    return .object(object)
                }
            }
            throw ControlPlaneError.notFound("the run has no sensitive input named '\(name)'")
        }
        let runID = try call.api.id()
        app.logger.info("secret released", metadata: ["run.id": "\(runID)", "secret.name": "\(name)"])
        return try .json(SecretResponse(value: value))
    }

    static func events(_ call: AgentCall) async throws -> APIResponse {
        let request = try call.api.decode(RunEventsRequest.self)
        try await call.app.store.transaction { tx in
            var stored = try await leasedRun(call, token: request.leaseToken, in: tx)
            appendHistory(request.events, to: &stored)
            try await tx.save(stored)
        }
        return .empty
    }

    /// Appends to the run's history, which keeps its last 10,000 events.
    static func appendHistory(_ events: [JSONObject], to stored: inout StoredRun) {
        var history = stored.run.runMessageHistory ?? []
        history += events.map { .object($0) }
        stored.run.runMessageHistory = Array(history.suffix(10_000))
    }

    /// The lease token of upload calls travels in a header: the body is the file.
    static func uploadLease(_ call: AgentCall) throws -> String {
        guard let token = call.api.request.headers[HTTPField.Name("X-Lease-Token")!] else {
            throw ControlPlaneError.badRequest("missing X-Lease-Token header")
        }
        return token
    }

    static func checkDigest(_ call: AgentCall, _ digest: String) throws {
        if let expected = call.api.request.headers[HTTPField.Name("X-Content-SHA256")!], expected.lowercased() != digest
        {
            throw ControlPlaneError.badRequest(
                "the upload's SHA-256 is \(digest), not \(expected): the body was damaged in transit")
        }
    }

    /// Stores an upload as it streams in, then checks it against `X-Content-SHA256`.
    static func receive(_ call: AgentCall) async throws -> (String, Int64) {
        guard let body = call.stream else { throw ControlPlaneError.badRequest("the upload has no body") }
        // The lease is checked before a byte is stored, so a stale attempt cannot fill the disk.
        let token = try uploadLease(call)
        try await call.app.store.transaction { tx in _ = try await leasedRun(call, token: token, in: tx) }
        let (digest, size) = try await call.app.blobs.put(streaming: body, maxBytes: call.app.limits.maxFileBytes)
        do {
            try checkDigest(call, digest)
        } catch {
            // Nothing refers to the damaged upload; drop it unless another attachment shares it.
            if try await call.app.store.transaction({ try await $0.attachmentCount(sha256: digest) }) == 0 {
                try? await call.app.blobs.delete(digest)
            }
            throw error
        }
        return (digest, size)
    }

    static func image(_ call: AgentCall) async throws -> APIResponse {
        let token = try uploadLease(call)
        let app = call.app
        let (digest, size) = try await receive(call)
        let imageID = UUIDText.new()
        try await app.store.transaction { tx in
            var stored = try await leasedRun(call, token: token, in: tx)
            stored.images = (stored.images ?? [:]).merging([imageID: digest]) { _, new in new }
            try await tx.save(stored)
        }
        return try .json(UploadResponse(id: imageID, sha256: digest, sizeBytes: size))
    }

    static func upload(_ call: AgentCall) async throws -> APIResponse {
        let token = try uploadLease(call)
        guard let filename = call.api.query("filename") else {
            throw RequestValidationError(loc: ["query", "filename"], msg: "Field required", type: "missing")
        }
        try RunFactory.checkFilename(filename, field: "filename")
        let sourcePath = call.api.query("path")
        let app = call.app
        let (digest, size) = try await receive(call)
        let time = Timestamp.truncated(app.now())
        let contentType = call.api.request.headers[.contentType] ?? ContentTypes.guess(filename)
        let attachment = try await app.store.transaction { tx -> RunAttachment in
            var stored = try await leasedRun(call, token: token, in: tx)
            // Idempotent per (run, source path, content): a retried upload returns the first.
            if let existing = try await tx.attachments(ofRun: stored.id).first(where: {
                $0.attachmentType == .output && $0.sha256 == digest && $0.targetPath == sourcePath
                    && $0.filename == filename
            }) {
                return existing
            }
            let attachment = RunAttachment(
                id: UUIDText.new(), organizationID: stored.organizationID, runID: stored.id, filename: filename,
                contentType: contentType == "application/octet-stream" ? ContentTypes.guess(filename) : contentType,
                attachmentType: .output, sizeBytes: size, sha256: digest,
                storagePath: "sha256/" + digest, targetPath: sourcePath, cleanupImportsAfterRun: false, expiresAt: nil,
                createdAt: time)
            try await tx.insert(attachment)
            stored.run.outputAttachmentIDs.append(attachment.id)
            try await tx.save(stored)
            return attachment
        }
        return try .json(UploadResponse(id: attachment.id, sha256: digest, sizeBytes: attachment.sizeBytes))
    }

    static func complete(_ call: AgentCall) async throws -> APIResponse {
        let request = try call.api.decode(RunCompleteRequest.self)
        guard request.status.isTerminal else {
            throw RequestValidationError(
                loc: ["body", "status"], msg: "Input should be 'success', 'task_failed', 'error' or 'cancelled'",
                type: "enum")
        }
        let app = call.app
        let time = Timestamp.truncated(app.now())
        let stored = try await app.store.transaction { tx -> StoredRun in
            var stored = try await assignedRun(call, forUpdate: true, in: tx)
            // Completion is idempotent: a repeated call (or one after a cancel) changes nothing.
            if stored.run.status.isTerminal {
                if stored.leaseToken == request.leaseToken, stored.leaseExpiresAt != nil {
                    stored.leaseExpiresAt = nil
                    try await tx.save(stored)
                }
                return stored
            }
            guard stored.leaseToken == request.leaseToken else {
                throw ControlPlaneError.conflict("run \(stored.id): this lease is not held; the result is discarded")
            }
            if stored.planner == nil { stored.run.usageMetadata = PromptRuns.replayUsage(of: stored) }
            try await Scheduler.end(
                &stored, status: request.status, errors: request.error, output: request.outputData, at: time, in: tx)
            return stored
        }
        app.hub.wake(call.machineID)
        await WakePlanner(app: app).wake(afterEnding: stored)
        app.logger.info(
            "run completed",
            metadata: [
                "run.id": "\(stored.id)", "machine.id": "\(call.machineID)",
                "run.status": "\(stored.run.status.rawValue)",
            ])
        return try .json(stored.run)
    }

    static func content(_ call: AgentCall) async throws -> APIResponse {
        let id = try call.api.id()
        let app = call.app
        let attachment = try await app.store.transaction { tx -> RunAttachment in
            guard
                let attachment = try await tx.fetch(
                    RunAttachment.self, id: id, organizationID: call.organizationID, forUpdate: false),
                let run = try await tx.fetch(
                    StoredRun.self, id: attachment.runID, organizationID: call.organizationID, forUpdate: false),
                run.assignedMachineID == call.machineID
            else { throw ControlPlaneError.notFound("attachment \(id) not found for this machine") }
            return attachment
        }
        guard let reader = try await app.blobs.reader(attachment.sha256) else {
            throw ControlPlaneError.notFound("the content of attachment \(id) is missing from the blob store")
        }
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Content-SHA256")!] = attachment.sha256
        return .stream(reader, contentType: "application/octet-stream", headers: headers)
    }
}
