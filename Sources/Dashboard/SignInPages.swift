import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import Hummingbird

/// `/` signed out, `POST /sign-in`, `POST /sign-out`. The key is read from the form once,
/// hashed, and never written anywhere: the cookie holds a random session id.
struct SignInPages {
    let dashboard: Dashboard

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.post("/sign-in") { request, context -> Response in
            guard let key = context.form.text("api_key") else {
                return dashboard.page(
                    "sign_in", ["error": "Enter an API key.", "next": context.form["next"] ?? ""], context: context,
                    status: .unauthorized)
            }
            guard let secret = try await dashboard.sessions.signIn(apiKey: key) else {
                dashboard.app.logger.notice("dashboard sign-in refused")
                return dashboard.page(
                    "sign_in",
                    [
                        "error": "That API key is not valid, or it was revoked.",
                        "next": context.form["next"] ?? "",
                    ], context: context, status: .unauthorized)
            }
            var response = Dashboard.redirect(Self.safeNext(context.form["next"]))
            response.headers[values: .setCookie].append(dashboard.sessionCookie(secret))
            return response
        }
        router.post("/sign-out") { request, context -> Response in
            if let secret = context.secret { try await dashboard.sessions.signOut(secret: secret) }
            var response = Dashboard.redirect("/")
            response.headers[values: .setCookie].append(dashboard.clearedCookie())
            return response
        }
    }

    /// A local path to go back to after signing in; anything else goes to the overview.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\") else { return "/" }
        return next
    }
}

/// `/`: the overview when signed in, the sign-in form otherwise.
struct OverviewPage {
    let dashboard: Dashboard

    func register(on router: Router<DashboardContext>) {
        let dashboard = self.dashboard
        router.get("/") { request, context -> Response in
            guard context.session != nil else {
                let next = request.uri.queryParameters["next"].map(String.init) ?? ""
                return dashboard.page("sign_in", ["next": next], context: context)
            }
            let api = try dashboard.orgAPI(context)
            var counts: [String: Int] = [:]
            for status in ["connected", "disconnected", "error"] {
                let total = Views.total(try await api.get("/v1/machines?status=\(status)&limit=1"))
                if total > 0 { counts[status] = total }
            }
            let machineCount = counts.values.reduce(0, +)
            let running = try await api.get("/v1/runs?sort_mode=activity&limit=20&\(RunPages.rowFields)")
            let active = Views.items(running).filter {
                !Views.finalStatuses.contains($0["status"]?.stringValue ?? "")
            }
            var failures: [JSONObject] = []
            for status in ["error", "task_failed"] {
                failures += Views.items(try await api.get("/v1/runs?status=\(status)&limit=10&\(RunPages.rowFields)"))
            }
            failures.sort { ($0["created_at"]?.stringValue ?? "") > ($1["created_at"]?.stringValue ?? "") }
            let workflows = try await WorkflowNames.load(api)
            return dashboard.page(
                "overview",
                [
                    "nav_overview": true,
                    "machineCount": machineCount,
                    "statusCounts": counts.sorted { $0.key < $1.key }.map { ["status": $0.key, "count": $0.value] },
                    "active": active.map { RunPages.row($0, workflows: workflows) },
                    "failures": failures.prefix(10).map { RunPages.row($0, workflows: workflows) },
                ], context: context)
        }
    }
}
