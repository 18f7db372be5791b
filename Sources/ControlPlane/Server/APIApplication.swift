import Hummingbird
import Logging
import NIOCore

/// Builds the HTTP application: the same function serves `cyberdesk-server serve` and the
/// tests, which run it on an ephemeral port.
public func buildApplication(
    _ app: ControlPlane, host: String, port: Int, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(app),
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cyberdesk-server"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: app.logger)
}

/// Every route of the API on one router. Public so the security tests can enumerate
/// `routes` and prove that each one is covered by the organization-isolation test.
public func buildRouter(_ app: ControlPlane) -> Router<APIContext> {
    let router = Router(context: APIContext.self)
    router.add(middleware: APIErrorMiddleware())
    let api = APIRouter(router: router, app: app)
    HealthController().register(api)
    // Before the workflows: `/v1/workflows/prompt-image…` must not be taken for `/v1/workflows/{id}`.
    PromptImagesController().register(api)
    WorkflowsController().register(api)
    ModelConfigurationsController().register(api)
    ProviderCredentialsController().register(api)
    TrajectoriesController().register(api)
    MachinesController().register(api)
    PoolsController().register(api)
    ConnectionsController().register(api)
    RunsController().register(api)
    RunAttachmentsController().register(api)
    RunAttachmentsController.registerRunImages(api)
    ComputerController().register(api)
    AgentController().register(api)
    return router
}
