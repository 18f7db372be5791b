import CyberdeskAPI
import FoundationEssentials

/// `/v1/runs`: create (single, bulk, chain), read, cancel, retry and delete runs.
struct RunsController {
    func register(_ api: APIRouter) {
        api.add(.post, "/v1/runs", body: .files) { call in
            let create = try call.decode(RunCreate.self)
            let limits = call.app.limits
            try limits.check(inputs: create.inputValues, field: "input_values")
            try limits.check(inputs: create.sensitiveInputValues, field: "sensitive_input_values")
            try limits.check(create.mainPrompt, field: "main_prompt", max: limits.promptCharacters)
            try limits.check(create.sessionAlias, field: "session_alias", max: limits.nameCharacters)
            let request = try Self.request(create)
            let runs = try await call.app.runs.create([request], organizationID: call.organizationID)
            await WakePlanner(app: call.app).wake(for: runs)
            return try .json(runs[0].run, status: .created)
        }

        api.add(.post, "/v1/runs/bulk", body: .files) { call in
            let bulk = try call.decode(RunBulkCreate.self)
            let limits = call.app.limits
            guard (1...limits.runsPerRequest).contains(bulk.count) else {
                throw RequestValidationError(
                    loc: ["body", "count"], msg: "Input should be between 1 and \(limits.runsPerRequest)",
                    type: "less_than_equal")
            }
            try limits.check(inputs: bulk.inputValues, field: "input_values")
            try limits.check(inputs: bulk.sensitiveInputValues, field: "sensitive_input_values")
            let single = RunCreate(
                workflowID: bulk.workflowID, machineID: bulk.machineID, poolIDs: bulk.poolIDs,
                inputValues: bulk.inputValues, sensitiveInputValues: bulk.sensitiveInputValues,
                fileInputs: bulk.fileInputs, sessionID: bulk.sessionID, startSession: bulk.startSession,
                isPriority: bulk.isPriority)
            let request = try Self.request(single)
            let runs = try await call.app.runs.create(
                Array(repeating: request, count: bulk.count), organizationID: call.organizationID, identical: true)
            await WakePlanner(app: call.app).wake(for: runs)
            return try .json(
                RunBulkCreateResponse(createdRuns: runs.map(\.run), failedCount: 0, errors: []), status: .created)
        }

        api.add(.post, "/v1/runs/chain", body: .files) { call in
            let chain = try call.decode(WorkflowChainCreate.self)
            guard !chain.steps.isEmpty else {
                throw RequestValidationError(
                    loc: ["body", "steps"], msg: "List should have at least 1 item after validation", type: "too_short")
            }
            let limits = call.app.limits
            guard chain.steps.count <= limits.runsPerRequest else {
                throw RequestValidationError(
                    loc: ["body", "steps"],
                    msg:
                        "List should have at most \(limits.runsPerRequest) items after validation, not \(chain.steps.count)",
                    type: "too_long")
            }
            try limits.check(inputs: chain.sharedInputs, field: "shared_inputs")
            try limits.check(inputs: chain.sharedSensitiveInputs, field: "shared_sensitive_inputs")
            for (index, step) in chain.steps.enumerated() {
                let loc: (String) -> [JSONValue] = { ["body", "steps", .int(Int64(index)), .string($0)] }
                try limits.check(inputs: step.inputs, field: "steps[\(index)].inputs", loc: loc("inputs"))
                try limits.check(
                    inputs: step.sensitiveInputs, field: "steps[\(index)].sensitive_inputs",
                    loc: loc("sensitive_inputs"))
                try limits.check(
                    step.sessionAlias, field: "steps[\(index)].session_alias", max: limits.nameCharacters,
                    loc: loc("session_alias"))
            }
            let machineID = try chain.machineID.map { try requireUUID($0, field: "machine_id") }
            let poolIDs = try requireUUIDs(chain.poolIDs, field: "pool_ids")
            let existingSession = try chain.sessionID.map { try requireUUID($0, field: "session_id") }
            let sessionID = existingSession ?? UUIDText.new()
            var requests: [RunFactory.Request] = []
            for (index, step) in chain.steps.enumerated() {
                var inputs = chain.sharedInputs ?? [:]
                inputs.merge(step.inputs ?? [:]) { _, new in new }
                var sensitive = chain.sharedSensitiveInputs ?? [:]
                sensitive.merge(step.sensitiveInputs ?? [:]) { _, new in new }
                let last = index == chain.steps.count - 1
                var request = try Self.request(
                    RunCreate(
                        workflowID: step.workflowID, machineID: machineID, poolIDs: poolIDs, inputValues: inputs,
                        sensitiveInputValues: sensitive.isEmpty ? nil : sensitive,
                        fileInputs: index == 0 ? chain.sharedFileInputs : nil, sessionID: sessionID,
                        sessionAlias: step.sessionAlias ?? "step\(index + 1)",
                        releaseSessionAfter: last && !(chain.keepSessionAfterCompletion ?? false),
                        isPriority: chain.isPriority))
                request.chainIndex = index + 1
                requests.append(request)
            }
            let runs = try await call.app.runs.create(
                requests, organizationID: call.organizationID, newSessionID: existingSession == nil ? sessionID : nil)
            await WakePlanner(app: call.app).wake(for: runs)
            return try .json(WorkflowChainResponse(sessionID: sessionID, runIDs: runs.map(\.id)), status: .created)
        }

        api.add(.get, "/v1/runs") { call in
            var filters = try call.dateFilters()
            if let status = try call.queryEnum("status", RunStatus.self) {
                filters.append(.equals("status", .text(status.rawValue)))
            }
            if let workflowID = try call.queryUUID("workflow_id") {
                filters.append(.equals("workflow_id", .text(workflowID)))
            }
            if let machineID = try call.queryUUID("machine_id") {
                filters.append(.anyEquals(["assigned_machine_id", "pinned_machine_id"], .text(machineID)))
            }
            if let sessionID = try call.queryUUID("session_id") {
                filters.append(.equals("session_id", .text(sessionID)))
            }
            if let search = call.query("search"), !search.isEmpty { filters.append(.contains(["search_text"], search)) }
            let order: RecordOrder =
                call.query("sort_mode") == "activity"
                ? .custom(
                    "CASE WHEN status IN ('running', 'running_checks') THEN 0 WHEN status = 'scheduling' THEN 1 ELSE 2 END, created_at DESC, id DESC"
                )
                : .newestFirst
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let page = try await call.app.store.transaction {
                try await $0.list(
                    StoredRun.self, organizationID: call.organizationID, filters: chosen, order: order, skip: skip,
                    limit: limit)
            }
            let runs = page.items.map(\.run)
            let included = try await Self.included(for: runs, call: call)
            let fields = Set(call.queryAll("fields").flatMap { $0.split(separator: ",").map(String.init) })
            guard !fields.isEmpty else {
                return try .json(Page(items: runs, total: page.total, skip: skip, limit: limit, included: included))
            }
            // `fields=` trims each run to the fields asked for, plus the five the SDK requires.
            let keep = fields.union(["id", "workflow_id", "machine_id", "status", "created_at"])
            let items: [JSONObject] = try runs.map { run in
                try IncludedResources.object(run, type: "run").filter { keep.contains($0.key) }
            }
            return try .json(Page(items: items, total: page.total, skip: skip, limit: limit, included: included))
        }

        api.add(.get, "/v1/runs/:id") { call in
            let run = try await Self.fetch(call).run
            let included = try await Self.included(for: [run], call: call)
            guard let included else { return try .json(run) }
            var object = try IncludedResources.object(run, type: "run")
            object["type"] = nil
            object["included"] = .array(included.map { .object($0) })
            return try .json(object)
        }

        // output_data and run_message_history are documents: they may hold what a read_file read.
        api.add(.patch, "/v1/runs/:id", body: .document) { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            try call.app.limits.check(inputs: try patch.dictionary("input_values") ?? nil, field: "input_values")
            let requested = try Self.requestedStatus(patch)
            let current = try await Self.fetch(call)
            if current.run.status.isTerminal {
                throw ControlPlaneError.conflict(
                    "run \(id) has already ended (\(current.run.status.rawValue)); a finished run cannot change — retry it instead"
                )
            }
            if let requested, requested != current.run.status, !requested.isTerminal {
                throw ControlPlaneError.badRequest(
                    "a run's status can be set only to a final state (cancelled, success, task_failed, error); the machine reports progress"
                )
            }
            let time = Timestamp.truncated(call.app.now())
            let updated = try await call.app.store.transaction { tx in
                guard
                    var stored = try await tx.fetch(
                        StoredRun.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("run \(id) not found") }
                if case .some(let value) = try patch.dictionary("output_data") { stored.run.outputData = value }
                if case .some(let value) = try patch.strings("error") { stored.run.error = value }
                if case .some(let value) = try patch.array("run_message_history") {
                    stored.run.runMessageHistory = value
                }
                if case .some(let value) = try patch.bool("release_session_after") {
                    stored.run.releaseSessionAfter = value
                }
                if case .some(let value) = try patch.dictionary("input_values") {
                    guard stored.run.status == .scheduling, stored.assignedMachineID == nil else {
                        throw ControlPlaneError.conflict(
                            "run \(id) has been dispatched; its inputs can no longer change")
                    }
                    stored.run.inputValues = value
                }
                if let requested, requested.isTerminal, !stored.run.status.isTerminal {
                    try await Scheduler.end(&stored, status: requested, errors: nil, output: nil, at: time, in: tx)
                } else {
                    try await tx.save(stored)
                }
                return stored
            }
            if requested == .cancelled {
                call.app.logger.info("run cancelled", metadata: ["run.id": "\(id)"])
                Self.stopOnAgent(updated, app: call.app)
            }
            if requested?.isTerminal == true { await WakePlanner(app: call.app).wake(afterEnding: updated) }
            return try .json(updated.run)
        }

        api.add(.delete, "/v1/runs/:id") { call in
            let id = try call.id()
            let (attachments, unfinished) = try await call.app.store.transaction {
                tx -> ([RunAttachment], StoredRun?) in
                guard
                    let stored = try await tx.fetch(
                        StoredRun.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("run \(id) not found") }
                let attachments = try await tx.attachments(ofRun: id)
                if !stored.run.status.isTerminal, stored.run.releaseSessionAfter == true,
                    let session = stored.run.sessionID
                {
                    try await Scheduler.releaseSession(session, in: tx)
                }
                try await tx.deleteSecrets(ownerKind: .run, ownerID: id)
                try await tx.delete(StoredRun.self, id: id, organizationID: call.organizationID)
                return (attachments, stored.run.status.isTerminal ? nil : stored)
            }
            // A deleted unfinished run frees its machine (and maybe its session): the agent
            // stops it, and the polls that can take other work look again.
            if let unfinished {
                Self.stopOnAgent(unfinished, app: call.app)
                await WakePlanner(app: call.app).wake(afterEnding: unfinished)
            }
            await call.app.releaseBlobs(attachments)
            return .empty
        }

        // Screenshots a run took (history events carry their `image_id`): a signed link that
        // needs no key, as `runs.get_image_signed_url` expects.
        api.add(.get, "/v1/runs/:id/image/signed-url") { call in
            let stored = try await Self.fetch(call)
            guard let given = call.query("image_url"), !given.isEmpty else {
                throw RequestValidationError(loc: ["query", "image_url"], msg: "Field required", type: "missing")
            }
            let imageID = String(given.split(separator: "/").last ?? "")
            guard stored.images?[imageID] != nil else {
                throw ControlPlaneError.notFound("run \(stored.id) has no image '\(given)'")
            }
            let expiresIn = try call.queryInt("expires_in", default: 3600, in: 10...86_400)
            let expires = Int64(call.app.now().timeIntervalSince1970) + Int64(expiresIn)
            let path = "/v1/run-images/\(stored.id)/\(imageID)"
            let signature = call.app.signer.signature(path: path, expires: expires)
            return try .json(
                [
                    "supabase_url": .string(call.baseURL),
                    "signed_url": .string(call.baseURL + path + "?expires=\(expires)&signature=\(signature)"),
                    "expires_in": .int(Int64(expiresIn)),
                ] as JSONObject)
        }

        // The trajectory a model-performed run recorded (PLANNER.md): readable while the run
        // goes on; `generate-trajectory` promotes it (`is_generated`), approval makes later
        // runs replay it.
        api.add(.get, "/v1/runs/:id/trajectory") { call in
            let stored = try await Self.fetch(call)
            let trajectory = try await call.app.store.read { tx in
                try await PromptRuns.trajectory(ofRun: stored, in: tx)
            }
            guard let trajectory else {
                throw ControlPlaneError.notFound(
                    "run \(stored.id) has no trajectory: no model performed it, or it executed no step yet")
            }
            return try .json(trajectory)
        }

        api.add(.post, "/v1/runs/:id/generate-trajectory") { call in
            let stored = try await Self.fetch(call)
            let time = Timestamp.truncated(call.app.now())
            let trajectory = try await call.app.store.transaction { tx -> TrajectoryRecord in
                guard var trajectory = try await PromptRuns.trajectory(ofRun: stored, in: tx) else {
                    throw ControlPlaneError.notFound(
                        "run \(stored.id) has no trajectory to generate from: no model performed it, or it executed no step"
                    )
                }
                if !trajectory.isGenerated {
                    trajectory.isGenerated = true
                    trajectory.updatedAt = time
                    try await tx.save(trajectory)
                }
                return trajectory
            }
            return try .json(trajectory)
        }

        api.add(.post, "/v1/runs/:id/retry", body: .files) { call in
            let id = try call.id()
            var retry = call.body.isEmpty ? RunRetry() : try call.decode(RunRetry.self)
            let limits = call.app.limits
            try limits.check(inputs: retry.inputValues, field: "input_values")
            try limits.check(inputs: retry.sensitiveInputValues, field: "sensitive_input_values")
            try limits.check(retry.sessionAlias, field: "session_alias", max: limits.nameCharacters)
            retry.machineID = try retry.machineID.map { try requireUUID($0, field: "machine_id") }
            retry.poolIDs = try requireUUIDs(retry.poolIDs, field: "pool_ids")
            retry.sessionID = try retry.sessionID.map { try requireUUID($0, field: "session_id") }
            let stored = try await call.app.runs.retry(runID: id, organizationID: call.organizationID, with: retry)
            await WakePlanner(app: call.app).wake(for: [stored])
            return try .json(stored.run)
        }
    }

    static func requestedStatus(_ patch: PatchBody) throws -> RunStatus? {
        guard case .some(let value?) = try patch.string("status") else { return nil }
        guard let status = RunStatus(rawValue: value) else {
            throw RequestValidationError(
                loc: ["body", "status"],
                msg: "Input should be one of " + RunStatus.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "),
                type: "enum")
        }
        return status
    }

    /// Checks the ids in a create request and turns it into a factory request.
    static func request(_ create: RunCreate) throws -> RunFactory.Request {
        var create = create
        create.workflowID = try requireUUID(create.workflowID, field: "workflow_id")
        create.machineID = try create.machineID.map { try requireUUID($0, field: "machine_id") }
        create.poolIDs = try requireUUIDs(create.poolIDs, field: "pool_ids")
        create.sessionID = try create.sessionID.map { try requireUUID($0, field: "session_id") }
        if create.startSession == true, create.sessionID != nil {
            throw ControlPlaneError.badRequest(
                "start_session and session_id exclude each other: a run either starts a session or joins one")
        }
        return RunFactory.Request(create)
    }

    static func fetch(_ call: APICall) async throws -> StoredRun {
        try await call.record(StoredRun.self, named: "run")
    }

    /// `include=workflow,machine,machine.pools`.
    static func included(for runs: [Run], call: APICall) async throws -> [JSONObject]? {
        let includes = call.includes
        guard !includes.isEmpty else { return nil }
        var included: [JSONObject] = []
        if includes.contains("workflow") {
            included += try await IncludedResources.workflows(ids: runs.map(\.workflowID), call: call)
        }
        if includes.contains("machine") || includes.contains("machine.pools") {
            included += try await IncludedResources.machines(
                ids: runs.compactMap(\.machineID), call: call, withPools: includes.contains("machine.pools"))
        }
        return included
    }

    /// A run ended by the customer that an agent holds (leased): the agent is told to stop.
    static func stopOnAgent(_ stored: StoredRun, app: ControlPlane) {
        guard let machineID = stored.assignedMachineID, stored.leaseToken != nil else { return }
        app.hub.cancel(runID: stored.id, on: machineID)
    }
}
