import ControlPlane
import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import Mustache

/// The operators' web UI (DASHBOARD.md), served on its own port beside the API. Pages are
/// rendered on the server from the Mustache templates in `Templates`; every read and change
/// goes through the v1 API in process (`InProcessAPI`) as the signed-in organization, so the
/// dashboard has no business rule of its own.
public struct Dashboard: Sendable {
    let app: ControlPlane
    let api: InProcessAPI
    let sessions: WebSessions
    let library: MustacheLibrary
    /// Where browsers reach the dashboard (`https://…` makes the cookie `Secure`); nil: the
    /// request's `Host` with http.
    let publicURL: String?

    static let cookieName = "cyberdesk_session"
    /// Largest form body; a workflow's prompt and schemas are the largest fields.
    static let maxFormBytes = 4 << 20

    public init(app: ControlPlane, publicURL: String? = nil, idleTimeout: Double = 8 * 3600) throws {
        self.app = app
        api = InProcessAPI(app: app)
        sessions = WebSessions(app: app, idleTimeout: idleTimeout)
        library = try Templates.library()
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    var secureCookies: Bool { publicURL?.lowercased().hasPrefix("https://") ?? false }

    /// The router with every page; public so tests can run it without a socket.
    public func router() -> Router<DashboardContext> {
        let router = Router(context: DashboardContext.self)
        router.add(middleware: DashboardMiddleware(dashboard: self))
        Assets.register(on: router)
        SignInPages(dashboard: self).register(on: router)
        OverviewPage(dashboard: self).register(on: router)
        MachinePages(dashboard: self).register(on: router)
        PoolPages(dashboard: self).register(on: router)
        WorkflowPages(dashboard: self).register(on: router)
        TrajectoryPages(dashboard: self).register(on: router)
        RunPages(dashboard: self).register(on: router)
        SettingsPages(dashboard: self).register(on: router)
        return router
    }

    // MARK: Rendering

    /// Renders `template` inside the layout, with the session's name and CSRF token.
    func page(
        _ template: String, _ data: [String: Any], context: DashboardContext, status: HTTPResponse.Status = .ok
    ) -> Response {
        var data = data
        // `{{#has_list}}` wraps a list's table, which an empty list leaves out.
        for (key, value) in data {
            if let list = value as? [Any], !list.isEmpty { data["has_" + key] = true }
        }
        if let session = context.session {
            data["session"] = [
                "organizationName": session.organizationName, "keyPrefix": session.keyPrefix,
                "csrf": session.csrfToken,
            ]
            data["csrf"] = session.csrfToken
        }
        let html = library.render(data, withTemplate: template) ?? "template \(template) is missing"
        return Self.html(html, status: status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A redirect after a successful POST (303, so the browser GETs the target).
    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    func errorPage(_ status: HTTPResponse.Status, _ message: String, context: DashboardContext) -> Response {
        page(
            "error", ["title": status.reasonPhrase, "status": status.code, "message": message], context: context,
            status: status)
    }

    /// The API as the signed-in organization.
    func orgAPI(_ context: DashboardContext) throws -> OrgAPI {
        guard let session = context.session else { throw PageError.signedOut }
        return OrgAPI(api: api, organizationID: session.organizationID)
    }

    /// The dashboard's own origin, which every POST's `Origin` must equal.
    func origin(of request: Request) -> String? {
        if let publicURL {
            // scheme://host[:port] of the configured URL.
            let afterScheme =
                publicURL.firstRange(of: "://").map { publicURL[$0.upperBound...] } ?? Substring(publicURL)
            let host = afterScheme.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            let scheme = publicURL.lowercased().hasPrefix("https://") ? "https" : "http"
            return "\(scheme)://\(host)".lowercased()
        }
        guard let host = request.head.authority else { return nil }
        return "http://\(host)".lowercased()
    }

    func sessionCookie(_ secret: String) -> String {
        var cookie = "\(Self.cookieName)=\(secret); Path=/; HttpOnly; SameSite=Strict"
        if secureCookies { cookie += "; Secure" }
        return cookie
    }

    func clearedCookie() -> String {
        var cookie = "\(Self.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        if secureCookies { cookie += "; Secure" }
        return cookie
    }
}

/// Why a page could not be shown; `DashboardMiddleware` renders each as an error page.
enum PageError: Error {
    case notFound(String)
    case forbidden(String)
    case signedOut
    case failed(status: Int, message: String)
}

/// Builds the dashboard's HTTP server: the same function serves `cyberdesk-server serve` and
/// the tests.
public func buildDashboardApplication(
    _ dashboard: Dashboard, host: String, port: Int,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: dashboard.router(),
        configuration: ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: "cyberdesk-dashboard"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: dashboard.app.logger)
}
