import CyberdeskAPI

/// Health checks, without authentication.
struct HealthController {
    func register(_ api: APIRouter) {
        let app = api.app
        for path in ["/health", "/v1/health", "/health/live"] {
            api.addPublic(.get, path) { _, _ in try .json(["status": JSONValue.string("ok")]) }
        }
        for path in ["/v1/health/db", "/health/db", "/health/ready"] {
            api.addPublic(.get, path) { _, _ in
                guard await app.store.ping() else {
                    return .detail(.serviceUnavailable, "the database does not answer")
                }
                return try .json(["status": JSONValue.string("ok"), "database": .string("ok")])
            }
        }
    }
}
