import CyberdeskAPI
import FoundationEssentials
import Planner

/// The control plane's side of model-performed runs (PLANNER.md): which model performs a
/// run, the prompt it is given, and the trajectory its actions become.
enum PromptRuns {
    /// What a `plan` call needs from the store, read in its first transaction.
    struct Setup: Sendable {
        var endpoint: ModelEndpoint
        /// The run's prompt with inputs substituted and `{$name}` left as written.
        var promptText: String
        var inputs: JSONObject
        var sensitiveNames: Set<String>
        var outputSchemaText: String?
        var checkOutput: @Sendable (JSONObject) -> [String]
        /// The run's secret values and their placeholders, longest first, for ``redact(_:)``.
        var secrets: [(value: String, placeholder: String)]

        /// `text` with every secret value of the run replaced by its `{$name}`. Values shorter
        /// than 3 characters are left alone: they would blank out ordinary text.
        func redact(_ text: String) -> String {
            var text = text
            for secret in secrets where text.contains(secret.value) {
                text = text.replacingOccurrences(of: secret.value, with: secret.placeholder)
            }
            return text
        }
    }

    /// The values of every secret the run may type (run, machine, pools), opened from the
    /// vault on the server, only to take them out of what is sent to the model.
    static func secretValues(of stored: StoredRun, machine: Machine, app: ControlPlane, in tx: any StoreTransaction)
        async throws -> [(value: String, placeholder: String)]
    {
        var values: [(String, String)] = []
        for secret in try await AgentController.secretsByOwner(of: stored, machineID: machine.id, in: tx).joined() {
            let value = try app.vault.reveal(secret)
            let text = value.stringValue ?? value.templateText
            if text.count >= 3 { values.append((text, "{$" + secret.name + "}")) }
        }
        return values.sorted { $0.0.count > $1.0.count }
    }

    /// The model configuration that performs a run with no approved trajectory: the run's
    /// `model_metadata.main_agent_model_id` (fixed at creation from the workflow's and the
    /// run's own), else the organization's default configuration. Nil when there is none.
    static func configurationID(for stored: StoredRun, app: ControlPlane, in tx: any StoreTransaction) async throws
        -> String?
    {
        if let id = stored.run.modelMetadata?.mainAgentModelID ?? stored.run.mainAgentModelID { return id }
        return try await app.models.defaultConfigurationID(organizationID: stored.organizationID, in: tx)
    }

    /// How the machine takes part, for the claim. A configuration deleted since the run was
    /// created is an error naming it.
    static func assignment(
        configurationID: String, organizationID: String, app: ControlPlane, in tx: any StoreTransaction
    )
        async throws -> PlannerAssignment?
    {
        guard
            let endpoint = try await app.models.endpoint(
                configurationID: configurationID, organizationID: organizationID, in: tx)
        else { throw ModelResolutionError.deleted(id: configurationID, field: "main_agent_model_id") }
        return PlannerAssignment(screenshotLongSide: endpoint.screenshotLongSide, modelName: endpoint.name)
    }

    /// The planner state of a replay handing over to its model at `handover`: the model is told
    /// which recorded steps were done; the new trajectory starts with them (when the screen has
    /// the trajectory's size, so their coordinates and the model's agree) and continues with
    /// what the model does.
    static func handOver(
        _ stored: StoredRun, at handover: PlanHandover, screen: DisplaySize, app: ControlPlane,
        in tx: any StoreTransaction
    ) async throws -> PlannerState {
        guard let model = try await configurationID(for: stored, app: app, in: tx) else {
            throw ControlPlaneError.conflict("run \(stored.id) has no model to hand over to")
        }
        guard
            let workflow = try await tx.fetch(
                Workflow.self, id: stored.run.workflowID, organizationID: stored.organizationID, forUpdate: false),
            let trajectory = try await InputCheck.mainTrajectory(of: workflow, in: tx)
        else { throw ControlPlaneError.conflict("run \(stored.id): the replayed trajectory is gone") }
        let done = Array(trajectory.trajectoryData.prefix(max(0, handover.stepIndex)))
        var state = PlannerState(configurationID: model)
        // The cache detection model's calls before the handover stay in the run's usage.
        state.usage = stored.sameScreen?.usage ?? [:]
        state.cachedSteps = done.count
        state.nextStepIndex = handover.stepIndex
        state.dimensions = screen
        let names = done.compactMap { $0.objectValue?["func_name"]?.stringValue }
        state.handoverNote =
            "This task was being replayed from a recording. "
            + (names.isEmpty
                ? "No recorded step was done yet. "
                : "The first \(names.count) recorded step(s) were done: \(names.joined(separator: ", ")). ")
            + "The next one (\(handover.funcName)) was not done: the screen no longer looks as recorded. "
            + "Continue the task from the screen as it is now, without repeating what was done."
        let recordedSize = TrajectoriesController.size(trajectory.dimensions)
        if recordedSize == screen { state.trajectory = done }
        return state
    }

    static func setup(
        for stored: StoredRun, state: PlannerState, machine: Machine, app: ControlPlane, in tx: any StoreTransaction
    ) async throws -> Setup {
        guard
            let workflow = try await tx.fetch(
                Workflow.self, id: stored.run.workflowID, organizationID: stored.organizationID, forUpdate: false)
        else { throw ControlPlaneError.notFound("workflow \(stored.run.workflowID) was deleted") }
        guard
            let endpoint = try await app.models.endpoint(
                configurationID: state.configurationID, organizationID: stored.organizationID, in: tx)
        else {
            throw ControlPlaneError.conflict(
                "model configuration \(state.configurationID) was deleted while run \(stored.id) was using it")
        }
        let inputs = try await Scheduler.mergedInputs(run: stored, machine: machine, in: tx)
        let names = try await AgentController.sensitiveNames(of: stored, machine: machine, in: tx)
        let prompt = Template.render(stored.run.mainPrompt ?? workflow.mainPrompt, inputs: inputs).displayText
        var schemaText: String?
        var check: @Sendable (JSONObject) -> [String] = { _ in [] }
        if let text = workflow.outputSchema, !text.allSatisfy(\.isWhitespace),
            let schema = try? JSONSchema(parsing: text)
        {
            schemaText = text
            check = { output in schema.validate(.object(output)).map(\.message) }
        }
        return Setup(
            endpoint: endpoint, promptText: prompt, inputs: inputs, sensitiveNames: Set(names),
            outputSchemaText: schemaText, checkOutput: check,
            secrets: try await secretValues(of: stored, machine: machine, app: app, in: tx))
    }

    /// The prompt as the model sees it: text, and each prompt image of the organization
    /// (`<img src="supabase://workflow-prompt-images/…">`) as that image, in place. An image
    /// deleted since the workflow was saved is named as text instead.
    static func prompt(_ text: String, organizationID: String, app: ControlPlane) async throws -> [ContentPart] {
        var parts: [ContentPart] = []
        for piece in PromptImages.pieces(of: text) {
            switch piece {
            case .text(let text):
                parts.append(.text(text))
            case .image(let reference, let alt):
                if let image = try await app.promptImages.promptImage(
                    reference: reference, organizationID: organizationID)
                {
                    parts.append(.image(data: image.bytes, mediaType: image.mediaType))
                } else {
                    parts.append(.text("[image \(alt ?? reference) is no longer available]"))
                }
            }
        }
        return parts
    }

    /// Writes the run's trajectory so far (readable at once through
    /// `GET /v1/runs/{id}/trajectory`): a new, unapproved trajectory of the workflow the
    /// first time a step was executed, updated after each turn.
    static func saveTrajectory(
        _ state: PlannerState, of stored: inout StoredRun, at time: Date, in tx: any StoreTransaction
    )
        async throws
    {
        guard !state.trajectory.isEmpty else { return }
        let dimensions: JSONObject = [
            "width": .int(Int64(state.dimensions?.width ?? 0)), "height": .int(Int64(state.dimensions?.height ?? 0)),
        ]
        if let id = state.trajectoryID,
            var existing = try await tx.fetch(
                TrajectoryRecord.self, id: id, organizationID: stored.organizationID, forUpdate: true)
        {
            existing.trajectoryData = state.trajectory
            existing.dimensions = dimensions
            existing.updatedAt = time
            try await tx.save(existing)
            return
        }
        let model = state.usage[state.configurationID]?.name ?? state.configurationID
        let record = TrajectoryRecord(
            id: UUIDText.new(), organizationID: stored.organizationID, workflowID: stored.run.workflowID,
            name: "Run \(stored.id.prefix(8))",
            description: "Recorded from run \(stored.id) (attempt \(stored.attempt)), performed by model \(model)",
            trajectoryData: state.trajectory, dimensions: dimensions, runID: stored.id,
            originalInputValues: stored.run.inputValues, isApproved: false, hasBeenApproved: false, isGenerated: false,
            isMain: false, createdAt: time, updatedAt: time)
        try await tx.insert(record)
        stored.planner?.trajectoryID = record.id
    }

    /// The newest trajectory recorded from the run.
    static func trajectory(ofRun stored: StoredRun, in tx: any StoreTransaction) async throws -> TrajectoryRecord? {
        try await tx.list(
            TrajectoryRecord.self, organizationID: stored.organizationID,
            filters: [.equals("run_id", .text(stored.id))], order: .newestFirst, skip: 0, limit: 1
        ).items.first
    }

    /// `usage_metadata` of a run that replayed its trajectory: every executed step was cached.
    /// Its models are those the cache detection asked (`same-screen`).
    static func replayUsage(of stored: StoredRun) -> JSONObject {
        let steps = (stored.run.runMessageHistory ?? []).filter {
            $0.objectValue?["type"] == "step" && $0.objectValue?["status"] == "success"
        }.count
        return PlannerState.usageMetadata(
            models: stored.sameScreen?.usage ?? [:], agenticSteps: 0, cachedSteps: steps)
    }
}
