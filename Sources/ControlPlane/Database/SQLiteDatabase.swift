import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// The embedded store: one SQLite file in WAL mode. SQLite has a single writer, so every
/// transaction runs on one connection, one at a time (`BEGIN IMMEDIATE` takes the write
/// lock up front, so a transaction never fails half-way with `SQLITE_BUSY` because another
/// process — `cyberdesk-server keys create` while the server runs — holds it; such
/// processes wait up to `busy_timeout`).
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncLock()

    public init(path: String, logger: Logger) async throws {
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw StoreError.unavailable("cannot open the SQLite database at \(path): \(error)")
        }
        do {
            for pragma in [
                "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=10000",
            ] {
                _ = try await connection.query(pragma, [])
            }
        } catch {
            // A file that opens but cannot be set up (a read-only data dir cannot hold the
            // WAL): close the connection before failing, and say what to do.
            try? await connection.close()
            throw StoreError.unavailable(Self.cannotUse(path, error))
        }
    }

    /// The operator's message for a database that cannot be used.
    static func cannotUse(_ path: String, _ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("readonly") || text.contains("read-only") || text.contains("unable to open") {
            return "cannot write the SQLite database at \(path): its directory or file system is read-only (\(text))"
        }
        return "cannot use the SQLite database at \(path): \(text)"
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        let connection = SQLiteTransactionConnection(connection: connection)
        return try await lock.withLock {
            try await connection.run("BEGIN IMMEDIATE")
            do {
                let result = try await body(connection)
                try await connection.run("COMMIT")
                return result
            } catch {
                try? await connection.run("ROLLBACK")
                throw error
            }
        }
    }

    public func close() async throws {
        try await lock.withLock { try await self.connection.close() }
    }
}

struct SQLiteTransactionConnection: SQLConnection {
    let connection: SQLiteConnection

    func run(_ sql: String) async throws {
        do {
            _ = try await connection.query(sql, [])
        } catch {
            throw StoreError.from(sqlite: error)
        }
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        let data: [SQLiteData] = binds.map {
            switch $0 {
            case .null: .null
            case .int(let value): .integer(Int(value))
            case .double(let value): .float(value)
            case .text(let value): .text(value)
            case .blob(let value): .blob(ByteBuffer(bytes: value))
            }
        }
        let rows: [SQLiteRow]
        do {
            rows = try await connection.query(sql, data)
        } catch {
            throw StoreError.from(sqlite: error)
        }
        return rows.map { row in
            var values: [String: SQLValue] = [:]
            for column in row.columns {
                values[column.name] =
                    switch column.data {
                    case .null: .null
                    case .integer(let value): .int(Int64(value))
                    case .float(let value): .double(value)
                    case .text(let value): .text(value)
                    case .blob(var buffer): .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
                    }
            }
            return SQLRow(values: values)
        }
    }
}
