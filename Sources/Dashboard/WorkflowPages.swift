import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// `/workflows`, `/workflows/new`, `/workflows/{id}`: create and edit (name, prompt,
/// input/output schema, exports, model), versions, trajectories, recent runs, and starting a
/// run (a machine or pools, inputs as JSON, secrets in password fields).
struct WorkflowPages {
    let dashboard: Dashboard
    static let pageSize = 50
    /// Secret rows on the start-run form.
    static let secretRows = 3

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/workflows") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let skip = Views.skip(request)
            let search = request.uri.queryParameters["search"].map(String.init) ?? ""
            var path = "/v1/workflows?limit=\(Self.pageSize)&skip=\(skip)"
            if !search.isEmpty { path += "&search=\(FormFields.encode(search))" }
            let page = try await api.get(path)
            return dashboard.page(
                "workflows",
                [
                    "nav_workflows": true, "search": search,
                    "workflows": Views.items(page).map { workflow -> [String: Any] in
                        var row = Views.object(workflow)
                        row["displayName"] = workflow["name"]?.stringValue ?? "(unnamed)"
                        return row
                    },
                    "pagination": Views.pagination(
                        path: "/workflows", query: [("search", search)], skip: skip, limit: Self.pageSize,
                        total: Views.total(page)),
                ], context: context)
        }

        router.get("/workflows/new") { request, context -> Response in
            try await Self.editor(dashboard, context, workflow: nil, form: nil, errors: [:], status: .ok)
        }

        router.post("/workflows") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            var errors: [String: String] = [:]
            let body = Self.body(context.form, creating: true, errors: &errors)
            if errors.isEmpty {
                switch await api.send(.post, "/v1/workflows", .object(body)) {
                case .ok(let workflow):
                    return Dashboard.redirect("/workflows/\(workflow.objectValue?["id"]?.stringValue ?? "")")
                case .failed(_, let message, let fields):
                    errors = Self.fieldErrors(fields, message: message)
                }
            }
            return try await Self.editor(
                dashboard, context, workflow: nil, form: context.form, errors: errors, status: .unprocessableContent)
        }

        router.get("/workflows/:id") { request, context -> Response in
            try await Self.detail(dashboard, context, form: nil, errors: [:], runForm: nil, runErrors: [:], status: .ok)
        }

        router.post("/workflows/:id") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            var errors: [String: String] = [:]
            let body = Self.body(context.form, creating: false, errors: &errors)
            if errors.isEmpty {
                switch await api.send(.patch, "/v1/workflows/\(id)", .object(body)) {
                case .ok: return Dashboard.redirect("/workflows/\(id)?saved=1")
                case .failed(let status, let message, let fields):
                    if status == 404 { throw PageError.notFound(message) }
                    errors = Self.fieldErrors(fields, message: message)
                }
            }
            return try await Self.detail(
                dashboard, context, form: context.form, errors: errors, runForm: nil, runErrors: [:],
                status: .unprocessableContent)
        }

        router.post("/workflows/:id/runs") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            let form = context.form
            var errors: [String: String] = [:]
            var body: JSONObject = ["workflow_id": .string(id)]
            if let machine = form.text("machine_id") {
                if let machineID = UUIDText.normalized(machine) {
                    body["machine_id"] = .string(machineID)
                } else {
                    errors["machine_id"] = "Choose a machine from the list."
                }
            }
            let pools = form.all("pool_id").compactMap(UUIDText.normalized).map { JSONValue.string($0) }
            if !pools.isEmpty { body["pool_ids"] = .array(pools) }
            if let inputs = form.text("input_values") {
                if case .object(let object)? = Views.parseJSON(inputs) {
                    body["input_values"] = .object(object)
                } else {
                    errors["input_values"] = "Inputs must be a JSON object, such as {\"name\": \"value\"}."
                }
            }
            var secrets: JSONObject = [:]
            for row in 1...Self.secretRows {
                guard let name = form.text("secret_name_\(row)") else { continue }
                secrets[name] = .string(form["secret_value_\(row)"] ?? "")
            }
            if !secrets.isEmpty { body["sensitive_input_values"] = .object(secrets) }
            if errors.isEmpty {
                switch await api.send(.post, "/v1/runs", .object(body)) {
                case .ok(let run): return Dashboard.redirect("/runs/\(run.objectValue?["id"]?.stringValue ?? "")")
                case .failed(let status, let message, let fields):
                    if status == 404, fields.isEmpty, message.hasPrefix("workflow") {
                        throw PageError.notFound(message)
                    }
                    for (field, text) in fields {
                        let known = ["machine_id", "pool_ids", "input_values", "sensitive_input_values"]
                        errors[known.contains(field) ? field : "input_values"] = text
                    }
                    if errors.isEmpty { errors[message.contains("machine") ? "machine_id" : "input_values"] = message }
                }
            }
            // Secrets are never sent back to the browser.
            var kept = FormFields()
            kept.pairs = form.pairs.filter { !$0.0.hasPrefix("secret_value_") }
            return try await Self.detail(
                dashboard, context, form: nil, errors: [:], runForm: kept, runErrors: errors,
                status: .unprocessableContent)
        }

        router.post("/workflows/:id/delete") { request, context -> Response in
            let api = try dashboard.orgAPI(context)
            let id = try RunPages.id(context)
            if case .failed(let status, let message, _) = await api.send(.delete, "/v1/workflows/\(id)") {
                throw PageError.failed(status: status, message: message)
            }
            return Dashboard.redirect("/workflows")
        }
    }

    /// The API body of the workflow form.
    static func body(_ form: FormFields, creating: Bool, errors: inout [String: String]) -> JSONObject {
        var body: JSONObject = [:]
        let name = form.text("name")
        if name == nil { errors["name"] = "Give the workflow a name." }
        body["name"] = name.map(JSONValue.string) ?? .null
        let prompt = form["main_prompt"] ?? ""
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            errors["main_prompt"] = "Write the prompt: what the agent should do."
        }
        body["main_prompt"] = .string(prompt)
        for field in ["input_schema", "output_schema"] {
            if let schema = form.text(field) {
                body[field] = .string(schema)
            } else if !creating {
                body[field] = .null
            }
        }
        body["includes_file_exports"] = .bool(form["includes_file_exports"] != nil)
        if let model = form.text("main_agent_model_id") {
            body["model_metadata"] = .object(["main_agent_model_id": .string(model)])
        } else if !creating {
            body["model_metadata"] = .null
        }
        return body
    }

    static func fieldErrors(_ fields: [String: String], message: String) -> [String: String] {
        let known = ["name", "main_prompt", "input_schema", "output_schema", "model_metadata", "main_agent_model_id"]
        var errors: [String: String] = [:]
        for (field, text) in fields {
            let target = field == "model_metadata" ? "main_agent_model_id" : field
            errors[known.contains(target) ? target : "main_prompt"] = text
        }
        if errors.isEmpty {
            let lower = message.lowercased()
            let field =
                lower.contains("input_schema")
                ? "input_schema"
                : lower.contains("output_schema")
                    ? "output_schema" : lower.contains("model") ? "main_agent_model_id" : "main_prompt"
            errors[field] = message
        }
        return errors
    }

    /// The values shown in the workflow form: what was posted, else the stored workflow.
    static func formValues(_ workflow: JSONObject?, _ form: FormFields?) -> [String: Any] {
        if let form {
            return [
                "name": form["name"] ?? "", "main_prompt": form["main_prompt"] ?? "",
                "input_schema": form["input_schema"] ?? "", "output_schema": form["output_schema"] ?? "",
                "includes_file_exports": form["includes_file_exports"] != nil,
                "main_agent_model_id": form["main_agent_model_id"] ?? "",
            ]
        }
        return [
            "name": workflow?["name"]?.stringValue ?? "", "main_prompt": workflow?["main_prompt"]?.stringValue ?? "",
            "input_schema": workflow?["input_schema"]?.stringValue ?? "",
            "output_schema": workflow?["output_schema"]?.stringValue ?? "",
            "includes_file_exports": workflow?["includes_file_exports"]?.boolValue ?? false,
            "main_agent_model_id": workflow?["model_metadata"]?.objectValue?["main_agent_model_id"]?.stringValue ?? "",
        ]
    }

    static func models(_ api: OrgAPI, selected: String) async throws -> [[String: Any]] {
        let page = try await api.get("/v1/model-configurations?limit=1000")
        let items = page.arrayValue?.compactMap(\.objectValue) ?? Views.items(page)
        return items.map { model in
            let id = model["id"]?.stringValue ?? ""
            return ["id": id, "name": model["name"]?.stringValue ?? id, "selected": id == selected]
        }
    }

    static func editor(
        _ dashboard: Dashboard, _ context: DashboardContext, workflow: JSONObject?, form: FormFields?,
        errors: [String: String], status: HTTPResponse.Status
    ) async throws -> Response {
        let api = try dashboard.orgAPI(context)
        let values = formValues(workflow, form)
        return dashboard.page(
            "workflow_new",
            [
                "nav_workflows": true, "form": values, "errors": errors,
                "models": try await models(api, selected: values["main_agent_model_id"] as? String ?? ""),
            ], context: context, status: status)
    }

    static func detail(
        _ dashboard: Dashboard, _ context: DashboardContext, form: FormFields?, errors: [String: String],
        runForm: FormFields?, runErrors: [String: String], status: HTTPResponse.Status
    ) async throws -> Response {
        let api = try dashboard.orgAPI(context)
        let id = try RunPages.id(context)
        guard let workflow = try await api.get("/v1/workflows/\(id)").objectValue else {
            throw PageError.notFound("Workflow \(id) not found.")
        }
        var data = Views.object(workflow)
        data["displayName"] = workflow["name"]?.stringValue ?? "(unnamed)"
        let values = formValues(workflow, form)
        data["form"] = values
        data["errors"] = errors
        data["models"] = try await models(api, selected: values["main_agent_model_id"] as? String ?? "")
        let versions = (try await api.get("/v1/workflows/\(id)/versions")).arrayValue?.compactMap(\.objectValue) ?? []
        data["versions"] = versions.reversed().map(Views.object)
        let trajectories = Views.items(try await api.get("/v1/trajectories?workflow_id=\(id)&limit=100"))
        data["trajectories"] = trajectories.map { trajectory -> [String: Any] in
            var row = Views.object(trajectory)
            row["stepCount"] = trajectory["trajectory_data"]?.arrayValue?.count ?? 0
            row["displayName"] =
                trajectory["name"]?.stringValue ?? "trajectory \((trajectory["id"]?.stringValue ?? "").prefix(8))"
            return row
        }
        let chosenMachine = runForm?["machine_id"] ?? ""
        data["machineOptions"] = Views.options(
            try await MachineNames.list(api).map { ($0.id, "\($0.displayName) (\($0.status ?? ""))") },
            selected: chosenMachine)
        let chosenPools = Set(runForm?.all("pool_id") ?? [])
        data["pools"] = Views.items(try await api.get("/v1/pools?limit=1000")).map { pool -> [String: Any] in
            var row = Views.object(pool)
            row["selected"] = chosenPools.contains(pool["id"]?.stringValue ?? "")
            return row
        }
        data["runForm"] = [
            "input_values": runForm?["input_values"] ?? "",
            "secrets": (1...secretRows).map { ["row": $0, "name": runForm?["secret_name_\($0)"] ?? ""] },
        ]
        data["runErrors"] = runErrors
        let runs = Views.items(try await api.get("/v1/runs?workflow_id=\(id)&limit=10&\(RunPages.rowFields)"))
        let names = [id: workflow["name"]?.stringValue ?? ""]
        data["recentRuns"] = runs.map { RunPages.row($0, workflows: names) }
        data["nav_workflows"] = true
        return dashboard.page("workflow", data, context: context, status: status)
    }
}
