import Foundation

/// The PostgreSQL server tests use, named by `CYBERDESK_TEST_POSTGRES_URL` (`.ci/run` starts
/// one and sets it). Without it the PostgreSQL cases are skipped, unless
/// `CYBERDESK_REQUIRE_POSTGRES=1`, which makes its absence a failure (as in CI).
public enum PostgresTestServer {
    public static let url: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["CYBERDESK_TEST_POSTGRES_URL"], !url.isEmpty { return url }
        if environment["CYBERDESK_REQUIRE_POSTGRES"] == "1" {
            fatalError("CYBERDESK_REQUIRE_POSTGRES=1 but CYBERDESK_TEST_POSTGRES_URL is not set")
        }
        return nil
    }()

    /// `url` with every connection's `search_path` set to `schema`, so a test gets its own
    /// empty namespace on a shared database.
    public static func url(_ url: String, searchPath schema: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "search_path=\(schema)"
    }

    /// Runs one statement with `psql` (schema set-up and tear-down).
    public static func execute(_ sql: String, url: String) async throws {
        let result = try await runProcess("psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard result.status == 0 else { throw TestFailure("psql '\(sql)' failed: \(result.stderr)") }
    }

    /// A fresh schema on the test server, for one test; drop it with `dropSchema`.
    public static func createSchema(url: String) async throws -> String {
        let schema = "t_" + UUID().uuidString.lowercased().replacing("-", with: "")
        try await execute("CREATE SCHEMA \(schema)", url: url)
        return schema
    }

    public static func dropSchema(_ schema: String, url: String) async {
        try? await execute("DROP SCHEMA IF EXISTS \(schema) CASCADE", url: url)
    }

    /// Runs `body` with the URL of a fresh schema on the test server, dropped afterwards.
    public static func withSchema<T>(url: String, _ body: (String) async throws -> T) async throws -> T {
        let schema = try await createSchema(url: url)
        do {
            let result = try await body(self.url(url, searchPath: schema))
            await dropSchema(schema, url: url)
            return result
        } catch {
            await dropSchema(schema, url: url)
            throw error
        }
    }
}
