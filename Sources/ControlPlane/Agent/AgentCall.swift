import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// One request from a machine: its machine credential, checked against the store on every
/// request (so deleting the machine revokes it at once), and the collected body.
struct AgentCall: Sendable {
    let api: APICall
    let machine: Machine
    /// The request body as it arrives, for streamed uploads (`api.body` is then empty).
    var stream: RequestBody?

    var app: ControlPlane { api.app }
    var machineID: String { machine.id }
    var organizationID: String { machine.organizationID }
}

extension APIRouter {
    /// An endpoint of the agent protocol: machine credentials only, bodies up to `maxBody`
    /// (`Limits.bodyBytes` unless given). A `streaming` route reads its body itself, with
    /// its own limit (uploads: `Limits.maxFileBytes`).
    func addAgent(
        _ method: HTTPRequest.Method, _ path: String, maxBody: Int? = nil, streaming: Bool = false,
        _ handler: @escaping @Sendable (AgentCall) async throws -> APIResponse
    ) {
        let app = self.app
        let route = Route(method: method, path: path, maxBody: maxBody ?? app.limits.maxBody(.small))
        router.on(RouterPath(path), method: method) { request, context -> Response in
            do {
                let machine = try await Self.authenticateMachine(request, app: app)
                let body = streaming ? [] : try await Self.collect(request, route: route)
                let call = APICall(
                    request: request, context: context, organizationID: machine.organizationID, body: body, app: app)
                return try await handler(AgentCall(api: call, machine: machine, stream: streaming ? request.body : nil))
                    .response()
            } catch {
                let answer = APIResponse.from(error: error)
                if answer.status.code >= 500 {
                    app.logger.error(
                        "agent request failed",
                        metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
                }
                return answer.response()
            }
        }
    }

    static func bearer(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization] else {
            throw ControlPlaneError.unauthorized(
                "missing Authorization header; send 'Authorization: Bearer <credential>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw ControlPlaneError.unauthorized("the Authorization header must be 'Bearer <credential>'")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func authenticateMachine(_ request: Request, app: ControlPlane) async throws -> Machine {
        let hash = Credentials.hash(try bearer(request))
        guard let machine = try await app.store.read({ try await $0.machine(tokenHash: hash) }) else {
            throw ControlPlaneError.unauthorized(
                "invalid machine credential: the machine was deleted or registered again; run 'cyberdesk-agent join'")
        }
        return machine
    }
}
