import CyberdeskAPI
import FoundationEssentials
import Planner

/// `POST /v1/agent/runs/{id}/same-screen`: cache detection (PLANNER.md, Checkpoints and
/// fallback). A replayed step's checkpoint did not match by pixels; the run's
/// `cache_detection_model_id` is asked whether the screen still shows the recorded state. The
/// answer is kept per step, so a retried call gets it again without a second model call.
///
/// Like `plan`, no transaction stays open while the model thinks, and the run's cancel notice
/// cancels the call.
extension AgentController {
    static func sameScreen(_ call: AgentCall) async throws -> APIResponse {
        let request = try call.api.decode(SameScreenRequest.self)
        let app = call.app
        let asked = try await app.store.transaction { tx -> (StoredRun, ModelEndpoint?, SameScreenResponse?) in
            var stored = try await leasedRun(call, token: request.leaseToken, in: tx)
            if let answer = stored.sameScreen?.answers[request.stepIndex] { return (stored, nil, answer) }
            if !request.events.isEmpty {
                appendHistory(request.events, to: &stored)
                try await tx.save(stored)
            }
            guard stored.run.status == .running else {
                throw ControlPlaneError.conflict("run \(stored.id) is \(stored.run.status.rawValue); abandon it")
            }
            guard let id = stored.run.modelMetadata?.cacheDetectionModelID else {
                throw ControlPlaneError.conflict("run \(stored.id) names no cache_detection_model_id")
            }
            guard
                let endpoint = try await app.models.endpoint(
                    configurationID: id, organizationID: stored.organizationID, in: tx)
            else { throw ModelResolutionError.deleted(id: id, field: "cache_detection_model_id") }
            return (stored, endpoint, nil)
        }
        let stored = asked.0
        if let answer = asked.2 { return try .json(answer) }
        guard let endpoint = asked.1 else { throw ControlPlaneError.conflict("run \(stored.id): no model to ask") }

        var images: [[UInt8]] = []
        for id in [request.recordedImageID, request.regionImageID, request.screenImageID] {
            guard let digest = stored.images?[id], let bytes = try await app.blobs.get(digest) else {
                throw ControlPlaneError.badRequest("image \(id) was not uploaded for this run")
            }
            images.append(bytes)
        }
        let question = SameStateQuestion.request(
            stepIndex: request.stepIndex, funcName: request.funcName, recorded: images[0], current: images[1],
            screen: images[2], screenSize: request.imageSize)
        let model = app.modelAdapter(endpoint, app.logger)
        let outcome: Result<ModelTurn, ModelError> = await app.hub.planning(runID: stored.id) {
            do throws(ModelError) {
                return .success(try await model.complete(question))
            } catch {
                return .failure(error)
            }
        }
        let answer: SameScreenResponse
        var usage = stored.sameScreen?.usage ?? [:]
        switch outcome {
        case .success(let turn):
            ModelUsage.count(turn, of: endpoint, in: &usage)
            let verdict = SameStateQuestion.answer(turn)
            answer = SameScreenResponse(same: verdict.same, reason: verdict.reason)
        case .failure(let error):
            // A model that cannot be asked is no reason to act: the step does not act, and the
            // run goes on as without cache detection (to its main model, or task_failed).
            answer = SameScreenResponse(same: false, reason: error.message)
        }
        let time = APIJSON.formatTimestamp(app.now())
        let counted = usage
        let saved = try await app.store.transaction { tx -> SameScreenResponse in
            var current = try await leasedRun(call, token: request.leaseToken, in: tx)
            // A concurrent retry of the same question may have answered first.
            if let given = current.sameScreen?.answers[request.stepIndex] { return given }
            var checks = current.sameScreen ?? SameScreenChecks()
            checks.answers[request.stepIndex] = answer
            checks.usage = counted
            current.sameScreen = checks
            appendHistory(
                [
                    [
                        "type": "same_screen", "step_index": .int(Int64(request.stepIndex)),
                        "func_name": .string(request.funcName), "model": .string(endpoint.name),
                        "same": .bool(answer.same), "reason": .string(answer.reason),
                        "image_id": .string(request.screenImageID), "at": .string(time),
                    ]
                ], to: &current)
            current.run.usageMetadata = PromptRuns.replayUsage(of: current)
            try await tx.save(current)
            return answer
        }
        app.logger.info(
            "cache detection",
            metadata: [
                "run.id": "\(stored.id)", "step.index": "\(request.stepIndex)", "model": "\(endpoint.name)",
                "same": "\(saved.same)",
            ])
        return try .json(saved)
    }
}
