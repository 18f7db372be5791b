import FoundationEssentials
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared store for several replicas: PostgreSQL through PostgresNIO's connection pool.
///
/// Transactions run in READ COMMITTED (PostgreSQL's default); rows a transaction will change
/// are locked with `FOR UPDATE` (or skipped with `SKIP LOCKED` when picking work), and the
/// invariants are constraints, so concurrent replicas cannot break them. A transaction that
/// loses a race — a deadlock, a serialization failure, or a uniqueness constraint another
/// replica satisfied first — is rolled back and run again from the start (bodies only touch
/// the database), so API callers never see such errors.
public final class PostgresDatabase: SQLDatabase, ClusterChannel {
    public let dialect = SQLDialect.postgres
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// How often a transaction that lost a race is tried again before giving up.
    static let maximumAttempts = 10

    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]`).
    /// One direct connection is made first, so a wrong address, password or database name
    /// fails at start with the server's own message instead of the pool retrying quietly.
    public init(url: String, logger: Logger, maximumConnections: Int = 20) async throws {
        let parts = try PostgresURL(url)
        do {
            let connection = try await PostgresConnection.connect(
                on: PostgresClient.defaultEventLoopGroup.any(), configuration: try parts.connectionConfiguration(),
                id: 0, logger: logger
            ).get()
            try? await connection.close()
        } catch {
            throw StoreError.unavailable(
                "cannot connect to PostgreSQL at \(parts.redacted): \(PostgresErrorText.describe(error))")
        }
        var configuration = parts.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 1
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        // The pool must be running before the first lease (the migrations come next).
        let (started, starting) = AsyncStream<Void>.makeStream()
        runner = Task {
            starting.finish()
            await client.run()
        }
        for await _ in started {}
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            let failure = TransactionFailure()
            do {
                return try await client.withConnection { connection in
                    let transaction = PostgresTransactionConnection(
                        connection: connection, logger: logger, failure: failure)
                    try await transaction.run("BEGIN")
                    do {
                        let result = try await body(transaction)
                        try await transaction.run("COMMIT")
                        return result
                    } catch {
                        try? await transaction.run("ROLLBACK")
                        throw error
                    }
                }
            } catch {
                guard attempt < Self.maximumAttempts, Self.lostRace(failure.sqlState, error) else { throw error }
                // Full jitter, growing: the other replica's transaction is about to commit.
                attempt += 1
                try await Task.sleep(for: .microseconds(Int.random(in: 100...(500 << min(attempt, 8)))))
            }
        }
    }

    /// Reads in autocommit mode: at READ COMMITTED each statement of a transaction takes its
    /// own snapshot anyway, so a reader loses nothing and saves `BEGIN` and `COMMIT`.
    public func read<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(PostgresTransactionConnection(connection: connection, logger: logger, failure: TransactionFailure()))
        }
    }

    /// Whether a failed transaction lost a race and is worth running again: a deadlock or
    /// serialization failure, or a uniqueness violation the body did not handle itself (a
    /// concurrent insert won; the retry sees its row and takes the other branch).
    static func lostRace(_ sqlState: String?, _ error: any Error) -> Bool {
        switch sqlState {
        case "40001", "40P01": true
        case "23505": (error as? StoreError).map { if case .conflict = $0 { true } else { false } } ?? false
        default: false
        }
    }

    /// Runs `body` only when no other replica runs the job named `key` at the same time (a
    /// session-level advisory lock on a connection held for the duration); returns nil when
    /// another replica holds it.
    public func exclusively<T: Sendable>(_ key: Int64, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await client.withConnection { connection in
            let locked = try await PostgresTransactionConnection(
                connection: connection, logger: logger, failure: TransactionFailure()
            ).query("SELECT pg_try_advisory_lock(?) AS locked", [.int(key)])
            guard (try? locked.first?.bool("locked")) == true else { return nil }
            do {
                let result = try await body()
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                throw error
            }
        }
    }

    public func notify(channel: String, payloads: [String]) async throws {
        guard !payloads.isEmpty else { return }
        _ = try await transaction { connection in
            for payload in payloads {
                try await connection.query("SELECT pg_notify(?, ?)", [.text(channel), .text(payload)])
            }
        }
    }

    public func listen(
        channel: String, ready: @Sendable () async -> Void, _ received: @Sendable (String) async -> Void
    ) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                await ready()
                for try await notification in notifications {
                    await received(notification.payload)
                }
            }
        }
    }

    /// The database server's clock, the one lease expiry is judged by.
    public func currentTime() async throws -> Date {
        let row = try await transaction { connection in
            try await connection.first("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT AS now")
        }
        return Timestamp.date(try row?.int("now") ?? 0)
    }

    public func close() async throws {
        runner.cancel()
    }
}

/// A connection inside a transaction: `?` placeholders become `$1, $2, ...` and values are
/// bound with their PostgreSQL types.
struct PostgresTransactionConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger
    /// The SQLSTATE of the statement that failed, for the retry decision.
    let failure: TransactionFailure

    func run(_ sql: String) async throws {
        do {
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        } catch {
            throw failed(error)
        }
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .int(let value): bindings.append(value)
            case .double(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .blob(let value): bindings.append(ByteBuffer(bytes: value))
            }
        }
        let query = PostgresQuery(unsafeSQL: PostgresPlaceholders.number(sql), binds: bindings)
        do {
            var rows: [SQLRow] = []
            for try await row in try await connection.query(query, logger: logger) {
                var values: [String: SQLValue] = [:]
                for cell in row { values[cell.columnName] = try Self.value(cell) }
                rows.append(SQLRow(values: values))
            }
            return rows
        } catch let error as StoreError {
            throw error
        } catch {
            throw failed(error)
        }
    }

    /// Records the SQLSTATE and turns the error into the store's terms.
    private func failed(_ error: any Error) -> StoreError {
        let sqlState = (error as? PSQLError)?.serverInfo?[.sqlState]
        failure.record(sqlState)
        let message = PostgresErrorText.describe(error)
        switch sqlState {
        case let state? where state.hasPrefix("23"): return .conflict(message)
        case "53100": return .unavailable("the database server's disk is full: \(message)")
        default: return .unavailable("database error: \(message)")
        }
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .int(try cell.decode(Int64.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default: return .text(try cell.decode(String.self))
        }
    }
}

/// Rewrites `?` placeholders to PostgreSQL's numbered `$n`, leaving `?` inside quoted
/// strings and identifiers alone.
enum PostgresPlaceholders {
    static func number(_ sql: String) -> String {
        var result = ""
        result.reserveCapacity(sql.utf8.count + 16)
        var index = 0
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                result.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                result.append(character)
            } else if character == "?" {
                index += 1
                result += "$\(index)"
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// The SQLSTATE of a transaction's failed statement.
final class TransactionFailure: Sendable {
    private let state = Mutex<String?>(nil)

    var sqlState: String? { state.withLock { $0 } }

    func record(_ sqlState: String?) { state.withLock { $0 = sqlState } }
}

enum PostgresErrorText {
    /// The server's message and code, without the query text PSQLError's description carries.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                return [info[.message], info[.detail], info[.sqlState].map { "(SQLSTATE \($0))" }]
                    .compactMap { $0 }.joined(separator: " ")
            }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return String(describing: error)
    }
}

/// `postgres://` URLs, as libpq accepts them (the subset that matters here):
/// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable|prefer|require&search_path=S`,
/// or `?host=/run/postgresql` for a Unix socket.
struct PostgresURL {
    enum TLSMode { case disable, prefer, require }

    var user: String
    var password: String?
    var database: String?
    var host: String
    var port: Int
    var socketDirectory: String?
    var tls: TLSMode
    var startupParameters: [(String, String)]
    var redacted: String

    init(_ url: String) throws {
        redacted = Self.redacted(url)
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme)
        else {
            throw StoreError.unavailable(
                "--database '\(redacted)' is not a PostgreSQL URL; use postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : path.removingPercentEncoding
        host = components.host ?? "127.0.0.1"
        port = components.port ?? 5432
        socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        case let mode:
            throw StoreError.unavailable("sslmode=\(mode) in --database is not one of disable, prefer, require")
        }
        startupParameters = [("application_name", "cyberdesk-server")]
        if let searchPath = query["search_path"], !searchPath.isEmpty {
            startupParameters.append(("search_path", searchPath))
        }
    }

    func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS =
                switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
            configuration = .init(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            configuration = .init(
                host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://***"
    }
}
