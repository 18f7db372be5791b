import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Registers API endpoints on a Hummingbird router. Every endpoint goes through the same
/// steps: authenticate the API key, replay or reserve its `Idempotency-Key`, collect the
/// body up to the route's size limit (`ControlPlane.Limits.Body`), run the handler, and turn
/// every error into the status and body the SDK expects.
struct APIRouter {
    let router: Router<APIContext>
    let app: ControlPlane

    typealias Handler = @Sendable (APICall) async throws -> APIResponse

    /// How long an unfinished idempotent request blocks retries with 409 before a retry may
    /// take it over (its server died mid-request).
    static let staleRequestAge: Double = 60

    /// An endpoint of the public API. `body` says what its body carries: only routes where
    /// files travel take `.files`.
    func add(
        _ method: HTTPRequest.Method, _ path: String, body: ControlPlane.Limits.Body = .small,
        _ handler: @escaping Handler
    ) {
        let app = self.app
        let route = Route(method: method, path: path, maxBody: app.limits.maxBody(body))
        // A change to machines or pools (availability, pool membership, a session's hold,
        // a new machine) can make a machine eligible for waiting runs without waking it:
        // idle polls look at the store again (`MachineHub.isQuiet`).
        let changesEligibility = method != .get && (path.hasPrefix("/v1/machines") || path.hasPrefix("/v1/pools"))
        router.on(RouterPath(path), method: method) { request, context -> Response in
            let response = await Self.serve(
                request: request, context: context, app: app, route: route, handler: handler)
            if changesEligibility, response.status.code < 300 { app.hub.forgetQuiet() }
            return response
        }
    }

    /// A route that needs no API key (health, signed downloads).
    func addPublic(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, APIContext) async throws -> APIResponse
    ) {
        router.on(RouterPath(path), method: method) { request, context -> Response in
            do {
                return try await handler(request, context).response()
            } catch {
                return APIResponse.from(error: error).response()
            }
        }
    }

    /// A registered endpoint, for its body limit and the messages naming it.
    struct Route: Sendable {
        var method: HTTPRequest.Method
        var path: String
        var maxBody: Int
    }

    /// The whole body, or 413 naming the route and its limit. A `Content-Length` over the
    /// limit is refused before any byte is read.
    static func collect(_ request: Request, route: Route) async throws -> [UInt8] {
        let refusal = ControlPlaneError.tooLarge(
            "the request body is larger than \(route.method) \(route.path) accepts: at most \(ControlPlane.Limits.describe(route.maxBody)); files travel only in file_inputs, run attachments and prompt images (docs/LIMITS.md)"
        )
        if let length = request.headers[.contentLength].flatMap(Int.init), length > route.maxBody { throw refusal }
        do {
            return Array(buffer: try await request.body.collect(upTo: route.maxBody))
        } catch is NIOTooManyBytesError {
            throw refusal
        }
    }

    static func serve(
        request: Request, context: APIContext, app: ControlPlane, route: Route, handler: Handler
    ) async -> Response {
        let started = ContinuousClock.now
        var organizationID: String?
        let response: Response
        do {
            let organization = try await authenticate(request, app: app)
            organizationID = organization
            let body = try await collect(request, route: route)
            let call = APICall(
                request: request, context: context, organizationID: organization, body: body, app: app)
            response = try await idempotent(call, handler: handler)
        } catch {
            let answer = APIResponse.from(error: error)
            if answer.status.code >= 500 {
                app.logger.error(
                    "request failed",
                    metadata: [
                        "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                        "error": "\(error)",
                    ])
            }
            response = answer.response()
        }
        let elapsed = ContinuousClock.now - started
        app.logger.debug(
            "request",
            metadata: [
                "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)", "org.id": "\(organizationID ?? "-")",
                "duration_ms":
                    "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
        return response
    }

    static func authenticate(_ request: Request, app: ControlPlane) async throws -> String {
        // Set only by `InProcessAPI`, for a caller that authenticated already (a dashboard session).
        if let organizationID = InProcessCaller.organizationID { return organizationID }
        guard let header = request.headers[.authorization] else {
            throw ControlPlaneError.unauthorized("missing Authorization header; send 'Authorization: Bearer <API key>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw ControlPlaneError.unauthorized("the Authorization header must be 'Bearer <API key>'")
        }
        let hash = Credentials.hash(String(parts[1]).trimmingCharacters(in: .whitespaces))
        let key = try await app.store.read { try await $0.apiKey(hash: hash) }
        guard let key, key.revokedAt == nil else {
            throw ControlPlaneError.unauthorized("invalid or revoked API key")
        }
        return key.organizationID
    }

    static func idempotent(_ call: APICall, handler: Handler) async throws -> Response {
        let method = call.request.method
        guard [.post, .put, .patch, .delete].contains(method),
            let key = call.request.headers[HTTPField.Name("Idempotency-Key")!], !key.isEmpty
        else {
            return try await handler(call).response()
        }
        guard key.utf8.count <= 255 else {
            throw RequestValidationError(
                loc: ["header", "Idempotency-Key"], msg: "String should have at most 255 characters",
                type: "string_too_long")
        }
        let app = call.app
        let entry = IdempotencyEntry(
            organizationID: call.organizationID, key: key, method: method.rawValue, path: call.request.uri.path,
            createdAt: app.now())
        var existing = try await app.store.transaction { try await $0.beginIdempotentRequest(entry) }
        if let stale = existing, !stale.isComplete,
            app.now().timeIntervalSince(stale.createdAt) > staleRequestAge
        {
            existing = try await app.store.transaction { tx in
                try await tx.abandonIdempotentRequest(organizationID: stale.organizationID, key: stale.key)
                return try await tx.beginIdempotentRequest(entry)
            }
        }
        if let existing {
            guard existing.method == entry.method, existing.path == entry.path else {
                throw ControlPlaneError.badRequest(
                    "Idempotency-Key '\(key)' was first used for \(existing.method) \(existing.path); use a new key for a different request"
                )
            }
            guard existing.isComplete else {
                var headers = HTTPFields()
                headers[HTTPField.Name("Idempotency-Status")!] = "in_progress"
                headers[.retryAfter] = "1"
                return APIResponse.detail(.conflict, "a request with this Idempotency-Key is still in progress")
                    .response(extraHeaders: headers)
            }
            var headers = HTTPFields()
            headers[HTTPField.Name("Idempotency-Replayed")!] = "true"
            let status = HTTPResponse.Status(code: existing.status)
            let replay: APIResponse = status == .noContent ? .empty : .json(status, existing.body)
            return replay.response(extraHeaders: headers)
        }
        let answer: APIResponse
        do {
            answer = try await handler(call)
        } catch {
            try? await app.store.transaction {
                try await $0.abandonIdempotentRequest(organizationID: entry.organizationID, key: key)
            }
            throw error
        }
        var done = entry
        done.isComplete = true
        switch answer {
        case .json(let status, let body):
            done.status = status.code
            done.body = body
        case .empty:
            done.status = HTTPResponse.Status.noContent.code
        case .bytes, .stream:
            try? await app.store.transaction {
                try await $0.abandonIdempotentRequest(organizationID: entry.organizationID, key: key)
            }
            return answer.response()
        }
        let finished = done
        try await app.store.transaction { try await $0.completeIdempotentRequest(finished) }
        return answer.response()
    }
}

/// Answers requests no route matched (and other framework errors) in the API's error shape.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(
        _ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            let message =
                error.status == .notFound
                ? "no such endpoint: \(request.method) \(request.uri.path)" : "\(error.status)"
            return APIResponse.detail(error.status, message).response()
        } catch {
            return APIResponse.from(error: error).response()
        }
    }
}
