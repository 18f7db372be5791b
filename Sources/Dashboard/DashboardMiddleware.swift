import ControlPlane
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// Runs before every page: finds the session from the cookie, refuses state changes without
/// the page's CSRF token and a matching `Origin` (403, nothing changes), sends signed-out
/// visitors to the sign-in page, turns errors into error pages, and adds the security headers.
struct DashboardMiddleware: RouterMiddleware {
    typealias Context = DashboardContext
    let dashboard: Dashboard

    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
    ]

    /// Paths a signed-out visitor may load.
    static func isPublic(_ path: String) -> Bool {
        path == "/" || path == "/sign-in" || path.hasPrefix("/static/") || path == "/favicon.ico"
    }

    func handle(
        _ request: Request, context: DashboardContext, next: (Request, DashboardContext) async throws -> Response
    ) async throws -> Response {
        var response = await respond(request, context: context, next: next)
        for (name, value) in Self.securityHeaders { response.headers[name] = value }
        return response
    }

    private func respond(
        _ request: Request, context: DashboardContext, next: (Request, DashboardContext) async throws -> Response
    ) async -> Response {
        var request = request
        var context = context
        let path = request.uri.path
        do {
            if let secret = request.cookies[Dashboard.cookieName]?.value, !secret.isEmpty,
                let session = try await dashboard.sessions.resolve(secret: secret)
            {
                context.session = session
                context.secret = secret
            }
            if request.method == .post {
                guard let origin = request.headers[.origin]?.lowercased(), origin == dashboard.origin(of: request)
                else {
                    return dashboard.errorPage(
                        .forbidden, "This form was not sent from this dashboard (its Origin does not match).",
                        context: context)
                }
                let body = try await request.collectBody(upTo: Dashboard.maxFormBytes)
                context.form = FormFields(urlEncoded: String(buffer: body))
                if path != "/sign-in" {
                    guard let session = context.session,
                        WebSessions.tokensMatch(context.form["csrf"] ?? "", session.csrfToken)
                    else {
                        return dashboard.errorPage(
                            .forbidden,
                            "This form's security token is missing or out of date. Reload the page and try again.",
                            context: context)
                    }
                }
            }
            if context.session == nil, !Self.isPublic(path) {
                return Dashboard.redirect("/?next=" + FormFields.encode(path))
            }
            return try await next(request, context)
        } catch let error as PageError {
            switch error {
            case .notFound(let message): return dashboard.errorPage(.notFound, message, context: context)
            case .forbidden(let message): return dashboard.errorPage(.forbidden, message, context: context)
            case .signedOut: return Dashboard.redirect("/")
            case .failed(let status, let message):
                return dashboard.errorPage(HTTPResponse.Status(code: status), message, context: context)
            }
        } catch let error as HTTPResponseError {
            let message = error.status == .notFound ? "There is no page at \(path)." : "\(error.status)"
            return dashboard.errorPage(error.status, message, context: context)
        } catch {
            dashboard.app.logger.error(
                "dashboard page failed", metadata: ["http.path": "\(path)", "error": "\(error)"])
            return dashboard.errorPage(.internalServerError, "The page failed: \(error)", context: context)
        }
    }
}
