import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// `/trajectories/{id}`: the steps in order with their checkpoint crops; approve (later runs
/// of the workflow replay it), make main, delete.
struct TrajectoryPages {
    let dashboard: Dashboard

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/trajectories/:id") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            guard let trajectory = try await api.get("/v1/trajectories/\(id)").objectValue else {
                throw PageError.notFound("Trajectory \(id) not found.")
            }
            var data = Views.object(trajectory)
            data["displayName"] = trajectory["name"]?.stringValue ?? "Trajectory \(id.prefix(8))"
            let workflowID = trajectory["workflow_id"]?.stringValue ?? ""
            if let workflow = try? await api.get("/v1/workflows/\(workflowID)").objectValue {
                data["workflowName"] = workflow["name"]?.stringValue ?? "(unnamed)"
            }
            let steps = trajectory["trajectory_data"]?.arrayValue ?? []
            data["steps"] = steps.enumerated().map { index, step -> [String: Any] in
                let object = step.objectValue ?? [:]
                var item: [String: Any] = [
                    "number": index + 1, "name": object["func_name"]?.stringValue ?? "(no func_name)",
                ]
                var args = object
                args["func_name"] = nil
                args["checkpoint"] = nil
                if !args.isEmpty { item["args"] = Views.pretty(.object(args)) }
                if let checkpoint = object["checkpoint"]?.objectValue {
                    item["checkpoint"] = "/trajectories/\(id)/steps/\(index + 1)/checkpoint.png"
                    if let region = checkpoint["region"]?.arrayValue?.compactMap(\.intValue), region.count == 4 {
                        item["region"] = "x \(region[0]), y \(region[1]), \(region[2])×\(region[3])"
                    }
                }
                return item
            }
            data["stepCount"] = steps.count
            data["nav_workflows"] = true
            data["dimensionsText"] =
                trajectory["dimensions"].map {
                    let width = $0.objectValue?["width"]?.intValue ?? 0
                    let height = $0.objectValue?["height"]?.intValue ?? 0
                    return "\(width)×\(height)"
                } ?? ""
            return dashboard.page("trajectory", data, context: context)
        }

        router.get("/trajectories/:id/steps/:step/checkpoint.png") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let number = context.parameters.get("step").flatMap { Int($0) } ?? 0
            let trajectory = try await api.get("/v1/trajectories/\(id)")
            let steps = trajectory.objectValue?["trajectory_data"]?.arrayValue ?? []
            guard number >= 1, number <= steps.count,
                let png = steps[number - 1].objectValue?["checkpoint"]?.objectValue?["png"]?.stringValue,
                let bytes = Data(base64Encoded: png)
            else { throw PageError.notFound("Step \(number) has no checkpoint.") }
            return Response(
                status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, max-age=60"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: Array(bytes))))
        }

        for (action, patch) in [
            ("approve", ["is_approved": JSONValue.bool(true)]), ("unapprove", ["is_approved": .bool(false)]),
            ("make-main", ["is_main": .bool(true)]),
        ] {
            router.post("/trajectories/:id/\(action)") { request, context -> Response in
                let api = try dashboard.orgAPI(context)
                let id = try RunPages.id(context)
                if case .failed(let status, let message, _) = await api.send(
                    .patch, "/v1/trajectories/\(id)", .object(patch))
                {
                    throw PageError.failed(status: status, message: message)
                }
                return Dashboard.redirect("/trajectories/\(id)")
            }
        }

        router.post("/trajectories/:id/delete") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let trajectory = try await api.get("/v1/trajectories/\(id)")
            if case .failed(let status, let message, _) = await api.send(.delete, "/v1/trajectories/\(id)") {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/workflows/\(trajectory.objectValue?["workflow_id"]?.stringValue ?? "")")
        }
    }
}

/// `/settings`: API keys and registration tokens (create, revoke; each secret shown once, on
/// the page that created it) and model configurations.
struct SettingsPages {
    let dashboard: Dashboard

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/settings") { request, context -> Response in
            try await Self.page(dashboard, context, extra: [:], status: .ok)
        }
        router.post("/settings/keys") { request, context -> Response in
            guard let session = context.session else { throw PageError.signedOut }
            guard let name = context.form.text("name") else {
                return try await Self.page(
                    dashboard, context, extra: ["keyErrors": ["name": "Give the key a name."]],
                    status: .unprocessableContent)
            }
            let (record, secret) = try await dashboard.sessions.createKey(
                organizationID: session.organizationID, name: name)
            return try await Self.page(
                dashboard, context, extra: ["newKey": ["name": record.name, "secret": secret]], status: .ok)
        }
        router.post("/settings/keys/:id/revoke") { request, context -> Response in
            guard let session = context.session else { throw PageError.signedOut }
            let id = try RunPages.id(context)
            do {
                try await dashboard.sessions.revokeKey(id: id, organizationID: session.organizationID)
            } catch let error as ControlPlaneError {
                throw PageError.notFound(error.description)
            }
            return Dashboard.redirect("/settings")
        }
        router.post("/settings/tokens") { request, context -> Response in
            guard let session = context.session else { throw PageError.signedOut }
            let pools = (context.form["pools"] ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty }
            let hours = Double(context.form["ttl_hours"] ?? "") ?? 1
            guard hours > 0, hours <= 24 * 30 else {
                return try await Self.page(
                    dashboard, context, extra: ["tokenErrors": ["ttl_hours": "Between 0 and 720 hours."]],
                    status: .unprocessableContent)
            }
            let (_, secret) = try await dashboard.sessions.createToken(
                organizationID: session.organizationID, pools: pools, ttl: hours * 3600)
            return try await Self.page(dashboard, context, extra: ["newToken": ["secret": secret]], status: .ok)
        }
        router.post("/settings/tokens/:id/revoke") { request, context -> Response in
            guard let session = context.session else { throw PageError.signedOut }
            let id = try RunPages.id(context)
            do {
                try await dashboard.sessions.revokeToken(id: id, organizationID: session.organizationID)
            } catch let error as ControlPlaneError {
                throw PageError.notFound(error.description)
            }
            return Dashboard.redirect("/settings")
        }
        router.post("/settings/models") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let form = context.form
            var body: JSONObject = [
                "name": .string(form["name"] ?? ""), "provider": .string(form["provider"] ?? ""),
                "model": .string(form["model"] ?? ""),
            ]
            if let key = form.text("api_key") { body["api_key"] = .string(key) }
            if let base = form.text("base_url") { body["additional_params"] = .object(["base_url": .string(base)]) }
            if form["is_system_default"] != nil { body["is_system_default"] = .bool(true) }
            switch await api.send(.post, "/v1/model-configurations", .object(body)) {
            case .ok: return Dashboard.redirect("/settings#models")
            case .failed(_, let message, var fields):
                if fields.isEmpty {
                    let lower = message.lowercased()
                    fields[lower.contains("provider") ? "provider" : lower.contains("model") ? "model" : "name"] =
                        message
                }
                var values = form.pairs.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
                values["api_key"] = nil
                return try await Self.page(
                    dashboard, context, extra: ["modelErrors": fields, "modelForm": values],
                    status: .unprocessableContent)
            }
        }
        router.post("/settings/models/:id/delete") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            if case .failed(let status, let message, _) = await api.send(.delete, "/v1/model-configurations/\(id)") {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/settings#models")
        }
    }

    static func page(
        _ dashboard: Dashboard, _ context: DashboardContext, extra: [String: Any], status: HTTPResponse.Status
    ) async throws -> Response {
        guard let session = context.session else { throw PageError.signedOut }
        let api = try dashboard.orgAPI(context)
        let now = Date()
        var data: [String: Any] = extra
        data["nav_settings"] = true
        data["keys"] = try await dashboard.sessions.keys(organizationID: session.organizationID).map { key in
            [
                "id": key.id, "name": key.name, "prefix": key.prefix,
                "created_at": APIJSON.formatTimestamp(key.createdAt), "revoked": key.revokedAt != nil,
                "current": key.prefix == session.keyPrefix,
            ] as [String: Any]
        }
        data["tokens"] = try await dashboard.sessions.tokens(organizationID: session.organizationID).prefix(50).map {
            token in
            let state =
                token.usedAt != nil ? "used" : token.revokedAt != nil ? "revoked" : token.expiresAt < now ? "expired" : "active"
            return [
                "id": token.id, "pools": token.poolNames.joined(separator: ", "), "state": state,
                "active": state == "active", "created_at": APIJSON.formatTimestamp(token.createdAt),
                "expires_at": APIJSON.formatTimestamp(token.expiresAt),
            ] as [String: Any]
        }
        let models = try await api.get("/v1/model-configurations")
        data["models"] = (models.arrayValue ?? []).compactMap(\.objectValue).map(Views.object)
        if data["modelForm"] == nil { data["modelForm"] = ["provider": "anthropic"] }
        return dashboard.page("settings", data, context: context, status: status)
    }
}
