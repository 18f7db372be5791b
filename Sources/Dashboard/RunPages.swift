import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import Hummingbird

/// `/runs` (filters, pages) and `/runs/{id}`: a run followed live (its `run_live` part is
/// fetched again every second until the run ends), history with screenshots, output,
/// attachments, errors; cancel and retry.
struct RunPages {
    let dashboard: Dashboard
    static let pageSize = 50
    /// Lists ask only for what a row shows (`fields=`): a run's history and inputs can be large.
    static let rowFields = "fields=id,workflow_id,machine_id,status,created_at"

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/runs") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let query = request.uri.queryParameters
            let status = query["status"].map(String.init).flatMap { Views.runStatuses.contains($0) ? $0 : nil } ?? ""
            let workflowID = query["workflow_id"].map(String.init).flatMap(UUIDText.normalized) ?? ""
            let machineID = query["machine_id"].map(String.init).flatMap(UUIDText.normalized) ?? ""
            let skip = Views.skip(request)
            var path = "/v1/runs?limit=\(Self.pageSize)&skip=\(skip)&\(Self.rowFields)"
            if !status.isEmpty { path += "&status=\(status)" }
            if !workflowID.isEmpty { path += "&workflow_id=\(workflowID)" }
            if !machineID.isEmpty { path += "&machine_id=\(machineID)" }
            let page = try await api.get(path)
            let workflows = try await WorkflowNames.load(api)
            let machines = try await MachineNames.load(api)
            let filtered = !status.isEmpty || !workflowID.isEmpty || !machineID.isEmpty
            return dashboard.page(
                "runs",
                [
                    "nav_runs": true,
                    "runs": Views.items(page).map { Self.row($0, workflows: workflows, machines: machines) },
                    "filtered": filtered,
                    "statuses": Views.runStatuses.map { ["value": $0, "selected": $0 == status] },
                    "workflows": workflows.sorted { $0.value < $1.value }.map {
                        ["id": $0.key, "name": $0.value, "selected": $0.key == workflowID]
                    },
                    "machineOptions": Views.options(
                        machines.sorted { $0.value < $1.value }.map { ($0.key, $0.value) }, selected: machineID),
                    "pagination": Views.pagination(
                        path: "/runs",
                        query: [("status", status), ("workflow_id", workflowID), ("machine_id", machineID)],
                        skip: skip, limit: Self.pageSize, total: Views.total(page)),
                ], context: context)
        }

        router.get("/runs/:id") { request, context -> Response in
            let data = try await Self.live(request: request, context: context, dashboard: dashboard)
            return dashboard.page("run", data.merging(["nav_runs": true]) { $1 }, context: context)
        }

        router.get("/runs/:id/live") { request, context -> Response in
            let data = try await Self.live(request: request, context: context, dashboard: dashboard)
            return dashboard.page("run_live", data, context: context)
        }

        router.get("/runs/:id/images/:image") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try Self.id(context)
            let image = context.parameters.get("image") ?? ""
            guard image.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw PageError.notFound("No such image.")
            }
            let signed = try await api.get(
                "/v1/runs/\(id)/image/signed-url?expires_in=60&image_url=\(FormFields.encode(image))")
            guard let url = signed.objectValue?["signed_url"]?.stringValue, let range = url.firstRange(of: "/v1/")
            else { throw PageError.notFound("No such image.") }
            return Self.passThrough(await api.bytes(String(url[range.lowerBound...])))
        }

        router.get("/runs/:id/attachments/:attachment") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try Self.id(context)
            guard let attachment = context.parameters.get("attachment").flatMap(UUIDText.normalized) else {
                throw PageError.notFound("No such attachment.")
            }
            let record = try await api.get("/v1/run-attachments/\(attachment)")
            guard record.objectValue?["run_id"]?.stringValue == id else {
                throw PageError.notFound("Run \(id) has no attachment \(attachment).")
            }
            return Self.passThrough(await api.bytes("/v1/run-attachments/\(attachment)/download"))
        }

        router.post("/runs/:id/cancel") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try Self.id(context)
            if case .failed(let status, let message, _) = await api.send(
                .patch, "/v1/runs/\(id)", .object(["status": "cancelled"]))
            {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/runs/\(id)")
        }

        router.post("/runs/:id/retry") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try Self.id(context)
            switch await api.send(.post, "/v1/runs/\(id)/retry", .object([:])) {
            case .ok(let run): return Dashboard.redirect("/runs/\(run.objectValue?["id"]?.stringValue ?? id)")
            case .failed(let status, let message, _): throw PageError.failed(status: status, message: message)
            }
        }
    }

    static func id(_ context: DashboardContext) throws -> String {
        guard let id = context.parameters.get("id").flatMap(UUIDText.normalized) else {
            throw PageError.notFound("There is no such item.")
        }
        return id
    }

    /// Bytes from the API as a response of their own type; a failure is passed on as its status.
    static func passThrough(_ answer: InProcessAPI.Answer) -> Response {
        var headers: HTTPFields = [.contentType: answer.contentType, .cacheControl: "no-store"]
        if let disposition = answer.headers[.contentDisposition] { headers[.contentDisposition] = disposition }
        return Response(
            status: .init(code: answer.status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// One run in a list.
    static func row(_ run: JSONObject, workflows: [String: String], machines: [String: String] = [:]) -> [String: Any] {
        var row = Views.object(run)
        let workflowID = run["workflow_id"]?.stringValue ?? ""
        row["workflowName"] = workflows[workflowID] ?? "workflow \(workflowID.prefix(8))"
        if let machineID = run["machine_id"]?.stringValue {
            row["machineName"] = machines[machineID] ?? String(machineID.prefix(8))
        }
        row["shortID"] = String((run["id"]?.stringValue ?? "").prefix(8))
        return row
    }

    /// What the run page and its live part show.
    static func live(request: Request, context: DashboardContext, dashboard: Dashboard) async throws -> [String: Any] {
        let api = try dashboard.orgAPI(context)
        let id = try id(context)
        let runValue = try await api.get("/v1/runs/\(id)")
        guard let run = runValue.objectValue else { throw PageError.notFound("Run \(id) not found.") }
        var data = Views.object(run)
        let status = run["status"]?.stringValue ?? ""
        let isFinal = Views.finalStatuses.contains(status)
        data["isFinal"] = isFinal
        data["canCancel"] = !isFinal
        data["shortID"] = String(id.prefix(8))
        let workflowID = run["workflow_id"]?.stringValue ?? ""
        if let workflow = try? await api.get("/v1/workflows/\(workflowID)"), let name = workflow.objectValue?["name"] {
            data["workflowName"] = name.stringValue ?? ""
        }
        if let machineID = run["machine_id"]?.stringValue {
            let machine = (try? await api.get("/v1/machines/\(machineID)"))?.objectValue ?? [:]
            data["machineName"] =
                machine["name"]?.stringValue ?? machine["hostname"]?.stringValue ?? String(machineID.prefix(8))
        }
        data["outputJSON"] = Views.pretty(run["output_data"])
        data["inputJSON"] = Views.pretty(run["input_values"])
        data["errors"] = run["error"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let history = run["run_message_history"]?.arrayValue ?? []
        data["history"] = history.enumerated().compactMap { index, event -> [String: Any]? in
            guard let event = event.objectValue else { return nil }
            var item: [String: Any] = ["number": index + 1]
            item["type"] = event["type"]?.stringValue ?? "event"
            if let step = event["step_index"]?.intValue { item["step"] = step + 1 }
            if let name = event["func_name"]?.stringValue { item["name"] = name }
            if let status = event["status"]?.stringValue { item["status"] = status }
            if let at = event["started_at"]?.stringValue ?? event["at"]?.stringValue { item["at"] = at }
            if let error = event["error"]?.stringValue { item["error"] = error }
            if let args = event["args"], args != .object([:]) { item["args"] = Views.pretty(args) }
            if let text = event["text"]?.stringValue ?? event["message"]?.stringValue { item["text"] = text }
            var result = event["result"]?.objectValue ?? [:]
            if let image = event["image_id"]?.stringValue ?? result["image_id"]?.stringValue {
                item["image"] = "/runs/\(id)/images/\(FormFields.encode(image))"
                result["image_id"] = nil
            }
            if !result.isEmpty { item["result"] = Views.pretty(.object(result)) }
            return item
        }
        data["historyCount"] = history.count
        var attachments: [[String: Any]] = []
        for attachmentID in (run["input_attachment_ids"]?.arrayValue ?? [])
            + (run["output_attachment_ids"]?.arrayValue
                ?? [])
        {
            guard let attachmentID = attachmentID.stringValue,
                let record = try? await api.get("/v1/run-attachments/\(attachmentID)").objectValue
            else { continue }
            var item = Views.object(record)
            item["href"] = "/runs/\(id)/attachments/\(attachmentID)"
            attachments.append(item)
        }
        data["attachments"] = attachments
        return data
    }
}

/// Names of the organization's workflows and machines, for lists that show runs and for
/// selects; decoded into small types (only the fields shown).
struct NamedItem: Decodable, Sendable {
    var id: String
    var name: String?
    var hostname: String?
    var status: String?

    var displayName: String { name ?? hostname ?? String(id.prefix(8)) }
}

struct NamedPage: Decodable, Sendable {
    var items: [NamedItem]
}

enum WorkflowNames {
    static func load(_ api: OrgAPI) async throws -> [String: String] {
        var names: [String: String] = [:]
        for workflow in try await api.get("/v1/workflows?limit=1000", as: NamedPage.self).items {
            names[workflow.id] = workflow.name ?? "(unnamed)"
        }
        return names
    }
}

enum MachineNames {
    static func list(_ api: OrgAPI) async throws -> [NamedItem] {
        try await api.get("/v1/machines?limit=1000&fields=name,hostname,status", as: NamedPage.self).items
    }

    static func load(_ api: OrgAPI) async throws -> [String: String] {
        Dictionary(try await list(api).map { ($0.id, $0.displayName) }, uniquingKeysWith: { first, _ in first })
    }
}
