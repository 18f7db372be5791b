import CyberdeskAPI
import FoundationEssentials
import HTTPTypes

/// `/v1/computer/{machine_id}/...`: ad-hoc computer actions relayed to the machine through
/// its poll channel (AGENT-PROTOCOL.md). The machine executes them one at a time, between
/// run steps.
struct ComputerController {
    /// Actions, and whether a success answers 204 (input actions) instead of a body.
    static let actions: [(HTTPRequest.Method, String, Bool)] = [
        (.get, "display/screenshot", false),
        (.get, "display/dimensions", false),
        (.get, "input/mouse/position", false),
        (.post, "input/mouse/move", true),
        (.post, "input/mouse/click", true),
        (.post, "input/mouse/drag", true),
        (.post, "input/mouse/scroll", true),
        (.post, "input/keyboard/type", true),
        (.post, "input/keyboard/key", true),
        (.post, "copy_to_clipboard", false),
        (.get, "fs/list", false),
        (.get, "fs/read", false),
        (.post, "fs/write", false),
        (.post, "shell/exec", false),
        (.post, "shell/powershell/exec", false),
    ]

    func register(_ api: APIRouter) {
        for (method, action, noContent) in Self.actions {
            // fs/write carries a file's content; every other action takes at most 64 KiB.
            api.add(method, "/v1/computer/:machine_id/" + action, body: action == "fs/write" ? .files : .small) {
                call in
                try await Self.relay(
                    call, action: action == "shell/powershell/exec" ? "shell/exec" : action, noContent: noContent)
            }
        }
    }

    static func relay(_ call: APICall, action: String, noContent: Bool) async throws -> APIResponse {
        let machineID = try call.id("machine_id")
        let app = call.app
        let machine = try await app.store.transaction {
            try await $0.fetch(Machine.self, id: machineID, organizationID: call.organizationID, forUpdate: false)
        }
        guard let machine else { throw ControlPlaneError.notFound("machine \(machineID) not found") }
        let silentFor = app.now().timeIntervalSince(machine.lastSeen)
        guard machine.status == .connected, silentFor < app.agentTiming.disconnectAfter else {
            throw ControlPlaneError.unavailable("machine \(machineID) is not connected")
        }
        if let session = machine.reservedSessionID,
            call.request.headers[HTTPField.Name("X-Cyberdesk-Session-Id")!]?.lowercased() != session
        {
            throw ControlPlaneError.conflict(
                "machine \(machineID) is reserved by session \(session); send X-Cyberdesk-Session-Id: \(session)")
        }
        guard call.body.count <= 64 << 10 || action == "fs/write" else {
            throw ControlPlaneError.tooLarge("computer actions take at most 64 KiB (fs/write: the body limit)")
        }
        var params: JSONObject = [:]
        for (key, value) in call.request.uri.queryParameters { params[String(key)] = .string(String(value)) }
        if !call.body.isEmpty { params.merge(try call.object()) { _, body in body } }
        let command = AgentCommand(commandID: UUIDText.new(), action: action, params: params)
        let result = try await CommandRelay.submit(
            command, to: machineID, app: app, timeout: .milliseconds(Int64(app.agentTiming.commandTimeout * 1000)))
        guard result.status == 200 else {
            let message =
                (try? APIJSON.decoder().decode(ErrorDetail.self, from: Data(result.body)).detail)
                ?? "the machine could not perform \(action)"
            let status: HTTPResponse.Status = result.status == 400 ? .badRequest : .internalServerError
            return .detail(status, message)
        }
        if noContent { return .empty }
        if result.contentType.hasPrefix("image/") {
            return .bytes(result.body, contentType: result.contentType, headers: [:])
        }
        return .json(.ok, result.body)
    }
}
