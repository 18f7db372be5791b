import CyberdeskAPI
import FoundationEssentials

/// `/v1/trajectories`: recorded steps, validated against STEPS.md on every write.
struct TrajectoriesController {
    func register(_ api: APIRouter) {
        api.add(.post, "/v1/trajectories", body: .document) { call in
            let create = try call.decode(TrajectoryCreate.self)
            let workflowID = try requireUUID(create.workflowID, field: "workflow_id")
            let limits = call.app.limits
            try limits.check(create.name, field: "name", max: limits.nameCharacters)
            try limits.check(create.description, field: "description", max: limits.descriptionCharacters)
            try limits.check(inputs: create.originalInputValues, field: "original_input_values")
            try limits.check(trajectoryData: create.trajectoryData)
            try Self.checkDimensions(create.dimensions)
            try Self.validate(create.trajectoryData, dimensions: create.dimensions)
            let time = Timestamp.truncated(call.app.now())
            let approved = create.isApproved ?? false
            let trajectory = TrajectoryRecord(
                id: UUIDText.new(), organizationID: call.organizationID, workflowID: workflowID, name: create.name,
                description: create.description, trajectoryData: create.trajectoryData, dimensions: create.dimensions,
                runID: try create.runID.map { try requireUUID($0, field: "run_id") },
                originalInputValues: create.originalInputValues, isApproved: approved, hasBeenApproved: approved,
                isGenerated: false, isMain: false, createdAt: time, updatedAt: time)
            try await call.app.store.transaction { tx in
                guard
                    try await tx.fetch(
                        Workflow.self, id: workflowID, organizationID: call.organizationID, forUpdate: false) != nil
                else { throw ControlPlaneError.notFound("workflow \(workflowID) not found") }
                if let runID = trajectory.runID,
                    try await tx.fetch(StoredRun.self, id: runID, organizationID: call.organizationID, forUpdate: false)
                        == nil
                {
                    throw ControlPlaneError.notFound("run \(runID) not found")
                }
                try await tx.insert(trajectory)
            }
            return try .json(trajectory, status: .created)
        }

        api.add(.get, "/v1/trajectories") { call in
            var filters = try call.dateFilters(updated: true)
            if let workflowID = try call.queryUUID("workflow_id") {
                filters.append(.equals("workflow_id", .text(workflowID)))
            }
            if let runID = try call.queryUUID("run_id") { filters.append(.equals("run_id", .text(runID))) }
            if let approved = try call.queryBool("is_approved") {
                filters.append(.equals("is_approved", .bool(approved)))
            }
            if let generated = try call.queryBool("is_generated") {
                filters.append(.equals("is_generated", .bool(generated)))
            }
            if let search = call.query("search"), !search.isEmpty {
                filters.append(.contains(["search_text"], search))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let page = try await call.app.store.transaction {
                try await $0.list(
                    TrajectoryRecord.self, organizationID: call.organizationID, filters: chosen, order: .newestFirst,
                    skip: skip, limit: limit)
            }
            var included: [JSONObject]?
            if call.includes.contains("workflow") {
                included = try await IncludedResources.workflows(ids: page.items.map(\.workflowID), call: call)
            }
            return try .json(Page(items: page.items, total: page.total, skip: skip, limit: limit, included: included))
        }

        api.add(.get, "/v1/trajectories/:id") { call in
            try .json(try await Self.fetch(call))
        }

        api.add(.patch, "/v1/trajectories/:id", body: .document) { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let newSteps = try patch.array("trajectory_data")
            let newDimensions = try patch.dictionary("dimensions")
            let limits = call.app.limits
            try limits.check(try patch.string("name") ?? nil, field: "name", max: limits.nameCharacters)
            try limits.check(
                try patch.string("description") ?? nil, field: "description", max: limits.descriptionCharacters)
            if case .some(let steps?) = newSteps { try limits.check(trajectoryData: steps) }
            if case .some(let steps?) = newSteps { try Self.validate(steps, dimensions: nil) }
            if case .some(let dimensions?) = newDimensions { try Self.checkDimensions(dimensions) }
            let time = Timestamp.truncated(call.app.now())
            let trajectory = try await call.app.store.transaction { tx in
                guard
                    var trajectory = try await tx.fetch(
                        TrajectoryRecord.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("trajectory \(id) not found") }
                if case .some(let name) = try patch.string("name") { trajectory.name = name }
                if case .some(let description) = try patch.string("description") {
                    trajectory.description = description
                }
                if case .some(let steps?) = try patch.array("trajectory_data") { trajectory.trajectoryData = steps }
                if case .some(let dimensions?) = try patch.dictionary("dimensions") {
                    trajectory.dimensions = dimensions
                }
                // Checkpoint regions must lie inside the dimensions as they are after the change.
                if case .some(.some) = newSteps {
                    try Self.validate(trajectory.trajectoryData, dimensions: trajectory.dimensions)
                } else if case .some(.some) = newDimensions {
                    try Self.validate(trajectory.trajectoryData, dimensions: trajectory.dimensions)
                }
                if case .some(let approved?) = try patch.bool("is_approved") {
                    trajectory.isApproved = approved
                    if approved { trajectory.hasBeenApproved = true }
                }
                if case .some(let main?) = try patch.bool("is_main") {
                    if main {
                        // One main trajectory per workflow.
                        let siblings = try await tx.list(
                            TrajectoryRecord.self, organizationID: call.organizationID,
                            filters: [
                                .equals("workflow_id", .text(trajectory.workflowID)), .equals("is_main", .bool(true)),
                            ],
                            order: .oldestFirst, skip: 0, limit: 10_000)
                        for var sibling in siblings.items where sibling.id != id {
                            sibling.isMain = false
                            sibling.updatedAt = time
                            try await tx.save(sibling)
                        }
                    }
                    trajectory.isMain = main
                }
                trajectory.updatedAt = time
                try await tx.save(trajectory)
                return trajectory
            }
            return try .json(trajectory)
        }

        api.add(.delete, "/v1/trajectories/:id") { call in
            let id = try call.id()
            let deleted = try await call.app.store.transaction {
                try await $0.delete(TrajectoryRecord.self, id: id, organizationID: call.organizationID)
            }
            guard deleted else { throw ControlPlaneError.notFound("trajectory \(id) not found") }
            return .empty
        }

        api.add(.post, "/v1/trajectories/:id/duplicate") { call in
            var copy = try await Self.fetch(call)
            let time = Timestamp.truncated(call.app.now())
            copy.id = UUIDText.new()
            copy.name = (copy.name ?? "Trajectory") + " (copy)"
            copy.isMain = false
            copy.createdAt = time
            copy.updatedAt = time
            let duplicate = copy
            try await call.app.store.transaction { try await $0.insert(duplicate) }
            return try .json(duplicate, status: .created)
        }
    }

    static func fetch(_ call: APICall) async throws -> TrajectoryRecord {
        try await call.record(TrajectoryRecord.self, named: "trajectory")
    }

    /// Steps and their checkpoints (regions inside `dimensions` when given, crops that decode).
    static func validate(_ steps: [JSONValue], dimensions: JSONObject?) throws {
        do {
            _ = try Trajectory.validate(steps)
            _ = try Trajectory.checkpoints(
                steps, dimensions: dimensions.flatMap(Self.size), decode: CheckpointImages.decodedSize)
        } catch {
            throw ControlPlaneError.badRequest("invalid trajectory_data: \(error.description)")
        }
    }

    static func size(_ dimensions: JSONObject) -> DisplaySize? {
        guard let width = dimensions["width"]?.intValue, let height = dimensions["height"]?.intValue else { return nil }
        return DisplaySize(width: Int(width), height: Int(height))
    }

    static func checkDimensions(_ dimensions: JSONObject) throws {
        guard let width = dimensions["width"]?.doubleValue, let height = dimensions["height"]?.doubleValue,
            width >= 1, height >= 1, width <= 65535, height <= 65535
        else {
            throw ControlPlaneError.badRequest(
                "dimensions must be {\"width\": W, \"height\": H} with the screen size in pixels the trajectory was recorded at"
            )
        }
    }
}
