import CyberdeskAPI

/// The checks a run's inputs must pass before it is stored: the workflow's `input_schema`
/// holds for the merged inputs, and every `{$name}` its trajectory types has a value.
enum InputCheck {
    static func check(
        workflow: Workflow, inputs: JSONObject, sensitive: JSONObject, machine: Machine?, pools: [Pool],
        in tx: any StoreTransaction
    ) async throws {
        var merged: JSONObject = [:]
        var sensitiveNames = Set(paths(sensitive))
        for pool in pools {
            merged.merge(pool.poolParameters ?? [:]) { _, new in new }
            sensitiveNames.formUnion(paths(pool.poolSensitiveParameters ?? [:]))
        }
        if let machine {
            merged.merge(machine.machineParameters ?? [:]) { _, new in new }
            sensitiveNames.formUnion(paths(machine.machineSensitiveParameters ?? [:]))
        }
        merged.merge(inputs) { _, new in new }

        if let trajectory = try await mainTrajectory(of: workflow, in: tx) {
            let steps: [Step]
            do {
                steps = try Trajectory.validate(trajectory.trajectoryData)
            } catch {
                throw ControlPlaneError.badRequest(
                    "the workflow's trajectory \(trajectory.id) is invalid: \(error.description); fix it with PATCH /v1/trajectories/\(trajectory.id)"
                )
            }
            let missing = Trajectory.sensitiveNames(in: steps).subtracting(sensitiveNames).sorted()
            if !missing.isEmpty {
                throw ControlPlaneError.badRequest(
                    "the workflow's trajectory types "
                        + missing.map { "{$\($0)}" }.joined(separator: ", ")
                        + " but the run provides no sensitive input named "
                        + missing.map { "'\($0)'" }.joined(separator: ", ")
                        + "; pass it in sensitive_input_values")
            }
        }

        guard let schemaText = workflow.inputSchema, !schemaText.trimmingCharacters(in: .whitespaces).isEmpty else {
            return
        }
        let schema: JSONSchema
        do {
            schema = try JSONSchema(parsing: schemaText)
        } catch {
            throw ControlPlaneError.badRequest("the workflow's input_schema is invalid: \(error.description)")
        }
        // Inputs that refer to an earlier chain step (`$ref`) are known only at dispatch;
        // the schema is checked then for them, and now for the rest.
        let references = Set(merged.compactMap { key, value in value.objectValue?["$ref"] == nil ? nil : key })
        // Sensitive inputs take part as `$name`, so a schema can require them.
        var document = merged.filter { !references.contains($0.key) }
        for (name, value) in sensitive { document["$" + name] = value }
        let violations = schema.validate(.object(document)).filter { violation in
            !references.contains {
                violation.path == "/" + $0 || violation.path.hasPrefix("/" + $0 + "/")
                    || violation.reason.contains("'\($0)'")
            }
        }
        if !violations.isEmpty {
            throw ControlPlaneError.badRequest(
                "the run's inputs do not match the workflow's input_schema: "
                    + violations.prefix(20).map { redacted($0, sensitive: sensitive) }.joined(separator: "; "))
        }
    }

    /// A violation message, without the value when it concerns a sensitive input.
    static func redacted(_ violation: JSONSchemaViolation, sensitive: JSONObject) -> String {
        if violation.path.hasPrefix("/$") {
            return "\(violation.path): the sensitive value does not match the schema"
        }
        return violation.message
    }

    /// The trajectory a run of the workflow executes: the one marked `is_main`, else the
    /// newest approved one.
    static func mainTrajectory(of workflow: Workflow, in tx: any StoreTransaction) async throws -> TrajectoryRecord? {
        let base: [RecordFilter] = [.equals("workflow_id", .text(workflow.id))]
        if let main = try await tx.list(
            TrajectoryRecord.self, organizationID: workflow.organizationID,
            filters: base + [.equals("is_main", .bool(true))],
            order: .custom("updated_at DESC, id DESC"), skip: 0, limit: 1
        ).items.first {
            return main
        }
        return try await tx.list(
            TrajectoryRecord.self, organizationID: workflow.organizationID,
            filters: base + [.equals("is_approved", .bool(true))], order: .newestFirst, skip: 0, limit: 1
        ).items.first
    }

    /// Every name a `{$name}` may use: top-level keys and dotted paths to nested values.
    static func paths(_ object: JSONObject, prefix: String = "") -> [String] {
        var names: [String] = []
        for (key, value) in object {
            let path = prefix.isEmpty ? key : prefix + "." + key
            names.append(path)
            if case .object(let nested) = value { names += paths(nested, prefix: path) }
        }
        return names
    }
}
