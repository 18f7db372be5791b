import ControlPlane
import Foundation
import TestSupport
import Logging
import ServerTestSupport
import Testing

/// A way to get a fresh, migrated, empty store. The conformance suite runs once per factory
/// in `all`: SQLite always, PostgreSQL when `CYBERDESK_TEST_POSTGRES_URL` names a server
/// (`.ci/run` starts one; `CYBERDESK_REQUIRE_POSTGRES=1` makes its absence a failure).
struct StoreFactory: Sendable, CustomTestStringConvertible {
    /// A store and what to do when the test is done with it.
    struct Opened: Sendable {
        var store: any Store
        var dispose: @Sendable () async -> Void
    }

    let name: String
    let open: @Sendable () async throws -> Opened

    var testDescription: String { name }

    /// SQLite in a temporary data directory, opened the way `cyberdesk-server` opens it.
    static let sqlite = StoreFactory(name: "sqlite") {
        let directory = try TemporaryDirectory()
        do {
            let store = try await DataDirectory(path: directory.path).openStore(database: nil, logger: .silent)
            return Opened(store: store) {
                try? await store.close()
                directory.remove()
            }
        } catch {
            directory.remove()
            throw error
        }
    }

    /// PostgreSQL: a fresh schema per store on the test server, dropped afterwards.
    static func postgres(url: String) -> StoreFactory {
        StoreFactory(name: "postgres") {
            let schema = try await PostgresTestServer.createSchema(url: url)
            do {
                let store = try await DataDirectory(path: NSTemporaryDirectory()).openStore(
                    database: PostgresTestServer.url(url, searchPath: schema), logger: .silent)
                return Opened(store: store) {
                    try? await store.close()
                    await PostgresTestServer.dropSchema(schema, url: url)
                }
            } catch {
                await PostgresTestServer.dropSchema(schema, url: url)
                throw error
            }
        }
    }

    /// Every store implementation under test.
    static let all: [StoreFactory] = [.sqlite] + (PostgresTestServer.url.map { [postgres(url: $0)] } ?? [])

    /// Runs `body` with a fresh store and disposes of it afterwards, whatever happens.
    func withStore<T: Sendable>(_ body: (any Store) async throws -> T) async throws -> T {
        let opened = try await open()
        do {
            let result = try await body(opened.store)
            await opened.dispose()
            return result
        } catch {
            await opened.dispose()
            throw error
        }
    }
}
