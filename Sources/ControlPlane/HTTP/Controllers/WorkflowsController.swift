import CyberdeskAPI
import FoundationEssentials

/// `/v1/workflows`: workflows with their versions, latest trajectory and duplicates.
struct WorkflowsController {
    func register(_ api: APIRouter) {
        api.add(.post, "/v1/workflows") { call in
            let create = try call.decode(WorkflowCreate.self)
            try Self.checkSizes(
                name: create.name, prompt: create.mainPrompt, inputSchema: create.inputSchema,
                outputSchema: create.outputSchema, limits: call.app.limits)
            try Self.checkSchema(create.inputSchema, field: "input_schema")
            try Self.checkSchema(create.outputSchema, field: "output_schema")
            let time = Timestamp.truncated(call.app.now())
            let workflow = try await call.app.store.transaction { tx in
                let metadata = try await ModelConfigurationRules.check(
                    metadata: create.modelMetadata, field: "model_metadata", organizationID: call.organizationID,
                    in: tx)
                try await PromptImages.checkReferences(
                    in: create.mainPrompt, field: "main_prompt", organizationID: call.organizationID, in: tx)
                let workflow = Workflow(
                    id: UUIDText.new(), organizationID: call.organizationID, name: create.name,
                    mainPrompt: create.mainPrompt, inputSchema: create.inputSchema, outputSchema: create.outputSchema,
                    includesFileExports: create.includesFileExports ?? false,
                    isWebhooksEnabled: create.isWebhooksEnabled ?? false,
                    terminalCommandAllowlist: create.terminalCommandAllowlist,
                    includesInputVariables: Self.hasInputVariables(create.mainPrompt), modelMetadata: metadata,
                    oldVersions: [], createdAt: time, updatedAt: time)
                try await tx.insert(workflow)
                return workflow
            }
            return try .json(workflow, status: .created)
        }

        api.add(.get, "/v1/workflows") { call in
            var filters = try call.dateFilters(updated: true)
            if let search = call.query("search"), !search.isEmpty {
                filters.append(.contains(["search_text"], search))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let page = try await call.app.store.transaction {
                try await $0.list(
                    Workflow.self, organizationID: call.organizationID, filters: chosen, order: .newestFirst,
                    skip: skip, limit: limit)
            }
            return try .json(Page(items: page.items, total: page.total, skip: skip, limit: limit))
        }

        api.add(.get, "/v1/workflows/:id") { call in
            try .json(try await Self.fetch(call))
        }

        api.add(.patch, "/v1/workflows/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            // Before anything is read or written: an oversized field leaves no old version.
            try Self.checkSizes(
                name: try patch.string("name") ?? nil, prompt: try patch.string("main_prompt") ?? nil,
                inputSchema: try patch.string("input_schema") ?? nil,
                outputSchema: try patch.string("output_schema") ?? nil, limits: call.app.limits)
            let time = Timestamp.truncated(call.app.now())
            let workflow = try await call.app.store.transaction { tx in
                guard
                    var workflow = try await tx.fetch(
                        Workflow.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("workflow \(id) not found") }
                let before = workflow
                if case .some(let name) = try patch.string("name") { workflow.name = name }
                if case .some(let prompt) = try patch.string("main_prompt") {
                    guard let prompt else {
                        throw RequestValidationError(
                            loc: ["body", "main_prompt"], msg: "main_prompt cannot be null", type: "string_type")
                    }
                    try await PromptImages.checkReferences(
                        in: prompt, field: "main_prompt", organizationID: call.organizationID, in: tx)
                    workflow.mainPrompt = prompt
                }
                if case .some(let metadata) = try ModelConfigurationRules.metadata(patch) {
                    workflow.modelMetadata = try await ModelConfigurationRules.check(
                        metadata: metadata, field: "model_metadata", organizationID: call.organizationID, in: tx)
                }
                if case .some(let schema) = try patch.string("input_schema") {
                    try Self.checkSchema(schema, field: "input_schema")
                    workflow.inputSchema = schema
                }
                if case .some(let schema) = try patch.string("output_schema") {
                    try Self.checkSchema(schema, field: "output_schema")
                    workflow.outputSchema = schema
                }
                if case .some(let flag) = try patch.bool("includes_file_exports") {
                    workflow.includesFileExports = flag ?? false
                }
                if case .some(let flag) = try patch.bool("is_webhooks_enabled") {
                    workflow.isWebhooksEnabled = flag ?? false
                }
                if case .some(let list) = try patch.strings("terminal_command_allowlist") {
                    workflow.terminalCommandAllowlist = list
                }
                workflow.includesInputVariables = Self.hasInputVariables(workflow.mainPrompt)
                if workflow != before {
                    workflow.oldVersions.append(Self.version(of: before, number: before.oldVersions.count + 1))
                    workflow.updatedAt = time
                    try await tx.save(workflow)
                }
                return workflow
            }
            return try .json(workflow)
        }

        api.add(.delete, "/v1/workflows/:id") { call in
            let id = try call.id()
            let attachments = try await call.app.store.transaction { tx in
                guard
                    try await tx.fetch(Workflow.self, id: id, organizationID: call.organizationID, forUpdate: true)
                        != nil
                else { throw ControlPlaneError.notFound("workflow \(id) not found") }
                let attachments = try await tx.deleteRuns(ofWorkflow: id)
                try await tx.delete(Workflow.self, id: id, organizationID: call.organizationID)
                return attachments
            }
            await call.app.releaseBlobs(attachments)
            return .empty
        }

        api.add(.get, "/v1/workflows/:id/latest-trajectory") { call in
            let workflow = try await Self.fetch(call)
            let trajectory = try await call.app.store.transaction { tx -> TrajectoryRecord? in
                if let main = try await InputCheck.mainTrajectory(of: workflow, in: tx) { return main }
                return try await tx.list(
                    TrajectoryRecord.self, organizationID: call.organizationID,
                    filters: [.equals("workflow_id", .text(workflow.id))], order: .newestFirst, skip: 0, limit: 1
                ).items.first
            }
            guard let trajectory else {
                throw ControlPlaneError.notFound("workflow \(workflow.id) has no trajectory yet")
            }
            return try .json(trajectory)
        }

        api.add(.get, "/v1/workflows/:id/versions") { call in
            let workflow = try await Self.fetch(call)
            var current = Self.version(of: workflow, number: workflow.oldVersions.count + 1)
            current["is_current"] = true
            return try .json(workflow.oldVersions + [current])
        }

        api.add(.post, "/v1/workflows/:id/duplicate") { call in
            let source = try await Self.fetch(call)
            let includeTrajectories =
                call.body.isEmpty
                ? false : (try PatchBody(try call.object()).bool("include_trajectories") ?? nil) ?? false
            let time = Timestamp.truncated(call.app.now())
            var copy = source
            copy.id = UUIDText.new()
            copy.name = (source.name ?? "Workflow") + " (copy)"
            copy.oldVersions = []
            copy.createdAt = time
            copy.updatedAt = time
            let duplicate = copy
            try await call.app.store.transaction { tx in
                try await tx.insert(duplicate)
                guard includeTrajectories else { return }
                let trajectories = try await tx.list(
                    TrajectoryRecord.self, organizationID: call.organizationID,
                    filters: [.equals("workflow_id", .text(source.id))], order: .oldestFirst, skip: 0, limit: 10_000)
                for var trajectory in trajectories.items {
                    trajectory.id = UUIDText.new()
                    trajectory.workflowID = duplicate.id
                    trajectory.createdAt = time
                    trajectory.updatedAt = time
                    try await tx.insert(trajectory)
                }
            }
            return try .json(duplicate, status: .created)
        }
    }

    static func fetch(_ call: APICall) async throws -> Workflow {
        try await call.record(Workflow.self, named: "workflow")
    }

    /// The text fields of a workflow against their limits (docs/LIMITS.md).
    static func checkSizes(
        name: String?, prompt: String?, inputSchema: String?, outputSchema: String?, limits: ControlPlane.Limits
    ) throws {
        try limits.check(name, field: "name", max: limits.nameCharacters)
        try limits.check(prompt, field: "main_prompt", max: limits.promptCharacters)
        try limits.check(inputSchema, field: "input_schema", max: limits.schemaCharacters)
        try limits.check(outputSchema, field: "output_schema", max: limits.schemaCharacters)
    }

    /// A schema must parse when it is given, so a run never fails on a broken schema later.
    static func checkSchema(_ text: String?, field: String) throws {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        do {
            _ = try JSONSchema(parsing: text)
        } catch {
            throw ControlPlaneError.badRequest("\(field) is not a usable JSON Schema: \(error.description)")
        }
    }

    static func hasInputVariables(_ prompt: String) -> Bool {
        !Template(prompt).inputNames.isEmpty
    }

    static func version(of workflow: Workflow, number: Int) -> JSONObject {
        var version: JSONObject = [
            "version": .int(Int64(number)),
            "main_prompt": .string(workflow.mainPrompt),
            "includes_file_exports": .bool(workflow.includesFileExports),
            "is_webhooks_enabled": .bool(workflow.isWebhooksEnabled),
            "updated_at": .string(APIJSON.formatTimestamp(workflow.updatedAt)),
        ]
        version["name"] = workflow.name.map { .string($0) } ?? .null
        version["input_schema"] = workflow.inputSchema.map { .string($0) } ?? .null
        version["output_schema"] = workflow.outputSchema.map { .string($0) } ?? .null
        version["terminal_command_allowlist"] =
            workflow.terminalCommandAllowlist.map { .array($0.map { .string($0) }) } ?? .null
        var metadata: JSONObject = [:]
        for field in workflow.modelMetadata?.fields ?? [] {
            metadata[field.name] = field.id.map { .string($0) } ?? .null
        }
        version["model_metadata"] = workflow.modelMetadata == nil ? .null : .object(metadata)
        return version
    }
}
