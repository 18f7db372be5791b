import ControlPlane
import Hummingbird

/// The request context of the dashboard's router: the signed-in session, once
/// `SessionMiddleware` found one, and the form fields of a POST it already read.
public struct DashboardContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The signed-in organization, nil when signed out.
    var session: WebSession?
    /// The cookie's secret of that session (to sign it out).
    var secret: String?
    /// The fields of a POST body (`application/x-www-form-urlencoded`).
    var form = FormFields()

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
    }
}
