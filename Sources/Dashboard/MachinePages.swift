import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// `/machines` and `/machines/{id}`: status, last seen, pools, current run, the live screen
/// (`screen.png`, fetched again every second by the page's script while it is visible),
/// clear a session, delete.
struct MachinePages {
    let dashboard: Dashboard
    static let pageSize = 50

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/machines") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let skip = Views.skip(request)
            let page = try await api.get("/v1/machines?limit=\(Self.pageSize)&skip=\(skip)&include=pools")
            return dashboard.page(
                "machines",
                [
                    "nav_machines": true,
                    "machines": Views.items(page).map(Self.row),
                    "pagination": Views.pagination(
                        path: "/machines", query: [], skip: skip, limit: Self.pageSize, total: Views.total(page)),
                ], context: context)
        }

        router.get("/machines/:id") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            guard let machine = try await api.get("/v1/machines/\(id)").objectValue else {
                throw PageError.notFound("Machine \(id) not found.")
            }
            var data = Self.row(machine)
            let member = Set((machine["pools"]?.arrayValue ?? []).compactMap { $0.objectValue?["id"]?.stringValue })
            data["memberPools"] = (machine["pools"]?.arrayValue ?? []).compactMap(\.objectValue).map(Views.object)
            data["pools"] = Views.items(try await api.get("/v1/pools?limit=1000")).map { pool -> [String: Any] in
                var item = Views.object(pool)
                item["checked"] = member.contains(pool["id"]?.stringValue ?? "")
                return item
            }
            let runs = Views.items(
                try await api.get("/v1/runs?machine_id=\(id)&sort_mode=activity&limit=10&\(RunPages.rowFields)"))
            let workflows = try await WorkflowNames.load(api)
            if let current = runs.first(where: { !Views.finalStatuses.contains($0["status"]?.stringValue ?? "") }) {
                data["currentRun"] = RunPages.row(current, workflows: workflows)
            }
            data["recentRuns"] = runs.map { RunPages.row($0, workflows: workflows) }
            data["nav_machines"] = true
            data["parametersJSON"] = Views.pretty(machine["machine_parameters"])
            return dashboard.page("machine", data, context: context)
        }

        // One frame of the live screen. A machine that cannot answer gets 204, so the page
        // keeps its last frame (and the browser logs no failed load).
        router.get("/machines/:id/screen.png") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let machine = try await api.get("/v1/machines/\(id)").objectValue ?? [:]
            var headers: HTTPFields = [:]
            if let session = machine["reserved_session_id"]?.stringValue {
                headers[HTTPField.Name("X-Cyberdesk-Session-Id")!] = session
            }
            let answer = await api.bytes("/v1/computer/\(id)/display/screenshot", headers: headers)
            guard answer.isSuccess, answer.contentType.hasPrefix("image/") else {
                return Response(status: .noContent, headers: [.cacheControl: "no-store"])
            }
            return RunPages.passThrough(answer)
        }

        router.post("/machines/:id/pools") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let pools = context.form.all("pool_id").compactMap(UUIDText.normalized).map { JSONValue.string($0) }
            if case .failed(let status, let message, _) = await api.send(
                .put, "/v1/machines/\(id)/pools", .object(["pool_ids": .array(pools)]))
            {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/machines/\(id)")
        }

        router.post("/machines/:id/clear-session") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            if case .failed(let status, let message, _) = await api.send(
                .patch, "/v1/machines/\(id)", .object(["reserved_session_id": .null]))
            {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/machines/\(id)")
        }

        router.post("/machines/:id/delete") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            if case .failed(let status, let message, _) = await api.send(.delete, "/v1/machines/\(id)") {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/machines")
        }
    }

    static func row(_ machine: JSONObject) -> [String: Any] {
        var row = Views.object(machine)
        let id = machine["id"]?.stringValue ?? ""
        row["displayName"] = machine["name"]?.stringValue ?? machine["hostname"]?.stringValue ?? String(id.prefix(8))
        row["isConnected"] = machine["status"]?.stringValue == "connected"
        row["poolNames"] = (machine["pools"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
            .joined(separator: ", ")
        return row
    }
}

/// `/pools` and `/pools/{id}`: create, edit, members.
struct PoolPages {
    let dashboard: Dashboard

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/pools") { request, context -> Response in
            try await Self.list(dashboard, context, form: [:], errors: [:], status: .ok)
        }
        router.post("/pools") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            var body: JSONObject = ["name": .string(context.form["name"] ?? "")]
            if let description = context.form.text("description") { body["description"] = .string(description) }
            switch await api.send(.post, "/v1/pools", .object(body)) {
            case .ok(let pool): return Dashboard.redirect("/pools/\(pool.objectValue?["id"]?.stringValue ?? "")")
            case .failed(_, let message, var fields):
                if fields.isEmpty { fields["name"] = message }
                return try await Self.list(
                    dashboard, context,
                    form: ["name": context.form["name"] ?? "", "description": context.form["description"] ?? ""],
                    errors: fields, status: .unprocessableContent)
            }
        }
        router.get("/pools/:id") { request, context -> Response in
            try await Self.detail(dashboard, context, errors: [:], status: .ok)
        }
        router.post("/pools/:id") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let body: JSONObject = [
                "name": .string(context.form["name"] ?? ""),
                "description": context.form.text("description").map(JSONValue.string) ?? .null,
            ]
            if case .failed(_, let message, var fields) = await api.send(.patch, "/v1/pools/\(id)", .object(body)) {
                if fields.isEmpty { fields["name"] = message }
                return try await Self.detail(dashboard, context, errors: fields, status: .unprocessableContent)
            }
            return Dashboard.redirect("/pools/\(id)")
        }
        router.post("/pools/:id/members") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let add = context.form.all("add").compactMap(UUIDText.normalized).map { JSONValue.string($0) }
            let remove = context.form.all("remove").compactMap(UUIDText.normalized).map { JSONValue.string($0) }
            for (method, ids) in [(HTTPRequest.Method.post, add), (.delete, remove)] where !ids.isEmpty {
                if case .failed(let status, let message, _) = await api.send(
                    method, "/v1/pools/\(id)/machines", .object(["machine_ids": .array(ids)]))
                {
                    throw PageError.failed(status: status, message: message)
                }
            }
            return Dashboard.redirect("/pools/\(id)")
        }
        router.post("/pools/:id/delete") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            if case .failed(let status, let message, _) = await api.send(.delete, "/v1/pools/\(id)") {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/pools")
        }
    }

    static func list(
        _ dashboard: Dashboard, _ context: DashboardContext, form: [String: String], errors: [String: String],
        status: HTTPResponse.Status
    ) async throws -> Response {
        let api = try dashboard.orgAPI(context)
        let pools = Views.items(try await api.get("/v1/pools?limit=1000"))
        return dashboard.page(
            "pools",
            ["nav_pools": true, "pools": pools.map(Views.object), "form": form, "errors": errors], context: context,
            status: status)
    }

    static func detail(
        _ dashboard: Dashboard, _ context: DashboardContext, errors: [String: String], status: HTTPResponse.Status
    ) async throws -> Response {
        let api = try dashboard.orgAPI(context)
        let id = try RunPages.id(context)
        guard let pool = try await api.get("/v1/pools/\(id)?include_machines=true").objectValue else {
            throw PageError.notFound("Pool \(id) not found.")
        }
        var data = Views.object(pool)
        let members = (pool["machines"]?.arrayValue ?? []).compactMap(\.objectValue)
        let memberIDs = Set(members.compactMap { $0["id"]?.stringValue })
        data["members"] = members.map(MachinePages.row)
        data["others"] = Views.items(try await api.get("/v1/machines?limit=1000&fields=name,hostname,status"))
            .filter { !memberIDs.contains($0["id"]?.stringValue ?? "") }.map(MachinePages.row)
        data["errors"] = errors
        data["nav_pools"] = true
        return dashboard.page("pool", data, context: context, status: status)
    }
}
