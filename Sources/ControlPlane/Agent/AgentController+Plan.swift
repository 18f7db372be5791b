import CyberdeskAPI
import FoundationEssentials
import Planner

/// `POST /v1/agent/runs/{id}/plan`: one turn of a model-performed run (PLANNER.md). The
/// model is called here, on the server, so its credentials never reach a machine and
/// machines need no route to it; the answer is the next steps for the machine to execute.
///
/// Three parts, so that no transaction stays open while the model thinks: read the run and
/// its planner state (recording the agent's events), call the model (cancelled by the
/// run's cancel notice), save the new state, usage, history and trajectory under the lease.
extension AgentController {
    static func plan(_ call: AgentCall) async throws -> APIResponse {
        let request = try call.api.decode(PlanRequest.self)
        let app = call.app
        let turn = try await app.store.transaction { tx -> PlanTurn in
            var stored = try await leasedRun(call, token: request.leaseToken, in: tx)
            // Events are recorded once per call: a retried call (same sequence) brings the same
            // events again, whether or not the first got as far as the model.
            if !request.events.isEmpty, request.sequence > (stored.planner?.eventsSequence ?? 0) {
                appendHistory(request.events, to: &stored)
                stored.planner?.eventsSequence = request.sequence
                try await tx.save(stored)
            }
            if stored.run.status == .cancelled {
                return .answered(
                    PlanResponse(steps: [], end: PlanEnd(status: .cancelled, errors: ["the run was cancelled"])))
            }
            guard stored.run.status == .running else {
                throw ControlPlaneError.conflict("run \(stored.id) is \(stored.run.status.rawValue); abandon it")
            }
            if stored.planner == nil, let handover = request.handover {
                stored.planner = try await PromptRuns.handOver(stored, at: handover, screen: request.screen, app: app, in: tx)
                try await tx.save(stored)
            }
            guard let state = stored.planner else {
                throw ControlPlaneError.conflict("run \(stored.id) replays a trajectory; no model performs it")
            }
            if request.sequence == state.lastSequence, let last = state.lastResponse { return .answered(last) }
            guard request.sequence == state.lastSequence + 1 else {
                throw ControlPlaneError.conflict(
                    "run \(stored.id): plan call \(request.sequence) after \(state.lastSequence); abandon the run")
            }
            guard let digest = stored.images?[request.imageID] else {
                throw ControlPlaneError.badRequest("image \(request.imageID) was not uploaded for this run")
            }
            let setup = try await PromptRuns.setup(for: stored, state: state, machine: call.machine, app: app, in: tx)
            return .fresh(stored, state, digest, setup)
        }
        let (stored, digest, setup): (StoredRun, String, PromptRuns.Setup)
        var state: PlannerState
        switch turn {
        case .answered(let response): return try .json(response)
        case .fresh(let run, let planner, let image, let found):
            (stored, state, digest, setup) = (run, planner, image, found)
        }

        let prompt = try await PromptRuns.prompt(setup.promptText, organizationID: stored.organizationID, app: app)
        let images = stored.images ?? [:]
        let blobs = app.blobs
        let context = PlanContext(
            endpoint: setup.endpoint, prompt: prompt, inputs: setup.inputs, sensitiveNames: setup.sensitiveNames,
            outputSchemaText: setup.outputSchemaText, checkOutput: setup.checkOutput,
            limits: PlannerLimits(additionalParams: setup.endpoint.additionalParams),
            elapsedSeconds: stored.run.startedAt.map { app.now().timeIntervalSince($0) } ?? 0,
            screenshotDigest: digest,
            loadImage: { id in
                guard let digest = images[id], let bytes = try await blobs.get(digest) else {
                    throw ControlPlaneError.notFound("run image \(id) is missing from the blob store")
                }
                return bytes
            },
            timestamp: APIJSON.formatTimestamp(app.now()), redact: { [setup] in setup.redact($0) })
        let model = app.modelAdapter(setup.endpoint, app.logger)
        let thinking = ContinuousClock.now
        let store = app.store
        let runID = stored.id
        let organizationID = stored.organizationID
        let planned = await app.hub.planning(runID: stored.id) { [state] in
            var state = state
            // A cancel committed before this call registered with the hub.
            let status = try? await store.read { tx in
                try await tx.fetch(StoredRun.self, id: runID, organizationID: organizationID, forUpdate: false)?.run
                    .status
            }
            if status == .cancelled {
                let end = PlanEnd(status: .cancelled, errors: ["the run was cancelled"])
                return (state, PlanOutcome(response: PlanResponse(steps: [], end: end), events: []))
            }
            let outcome = await PlannerLoop.advance(state: &state, request: request, context: context, model: model)
            return (state, outcome)
        }
        let modelTime = thinking.duration(to: .now)
        state = planned.0
        let outcome = planned.1
        state.lastSequence = request.sequence
        state.lastResponse = outcome.response

        let time = Timestamp.truncated(app.now())
        let saved = state
        let recorded = outcome.events
        let response = try await app.store.transaction { tx -> PlanResponse in
            var current = try await leasedRun(call, token: request.leaseToken, in: tx)
            // A concurrent call of the same sequence (a retry sent while this one was with the
            // model) may have saved first: its answer is the one the machine follows.
            if let saved = current.planner, saved.lastSequence != request.sequence - 1 {
                guard saved.lastSequence == request.sequence, let answer = saved.lastResponse else {
                    throw ControlPlaneError.conflict(
                        "run \(current.id): plan call \(request.sequence) overtaken; abandon the run")
                }
                return answer
            }
            if current.run.status.isTerminal, current.run.status != .cancelled {
                throw ControlPlaneError.conflict(
                    "run \(current.id) ended (\(current.run.status.rawValue)) meanwhile; abandon it")
            }
            current.planner = saved
            current.run.usageMetadata = saved.usageMetadata(cachedSteps: saved.cachedSteps)
            appendHistory(recorded, to: &current)
            try await PromptRuns.saveTrajectory(saved, of: &current, at: time, in: tx)
            try await tx.save(current)
            if current.run.status == .cancelled {
                return PlanResponse(steps: [], end: PlanEnd(status: .cancelled, errors: ["the run was cancelled"]))
            }
            return outcome.response
        }
        app.logger.info(
            "model turn",
            metadata: [
                "run.id": "\(stored.id)", "model": "\(setup.endpoint.name)", "plan.steps": "\(response.steps.count)",
                "plan.end": "\(response.end?.status.rawValue ?? "-")",
                "model.ms":
                    "\(Double(modelTime.components.seconds) * 1000 + Double(modelTime.components.attoseconds) / 1e15)",
            ])
        return try .json(response)
    }
}

/// What the first part of a `plan` call found.
enum PlanTurn: Sendable {
    /// Answered without the model: a retried call, or a cancelled run.
    case answered(PlanResponse)
    case fresh(StoredRun, PlannerState, String, PromptRuns.Setup)
}
