import CSQLite
import FoundationEssentials
import Logging

/// The embedded store: one SQLite file in WAL mode. SQLite has a single writer, so every
/// transaction runs on one connection, one at a time (`BEGIN IMMEDIATE` takes the write
/// lock up front, so a transaction never fails half-way with `SQLITE_BUSY` because another
/// process — `cyberdesk-server keys create` while the server runs — holds it; such
/// processes wait up to `busy_timeout`).
///
/// Statements run on the calling task's thread, from `BEGIN` to `COMMIT`, through the
/// sqlite3 C API (`SQLiteConnectionHandle`). The store's statements read and write a few
/// rows already in SQLite's page cache and take microseconds; handing each one to a thread
/// pool and back (SQLiteNIO, used before) cost far more than the statement: in the load
/// benchmark the server spent 47 % of its time in the kernel switching threads and 26 %
/// under the pool (BENCHMARKS.md). Neither package lets a transaction's statements run on
/// the caller: SQLiteNIO sends every statement to its pool, and GRDB runs each access on
/// its own dispatch queue and refuses a connection used outside it. This is why this
/// binding is written by hand; it is small (prepare, bind, step, read columns) and caches
/// prepared statements, which the store's fixed set of queries reuses.
///
/// The cost of running inline: a statement that waits blocks its thread — a WAL checkpoint's
/// fsync (milliseconds, every ~1,000 pages written), or `busy_timeout` while another
/// process holds the write lock (the CLI's short transactions).
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let connection: SQLiteConnectionHandle
    private let lock = AsyncLock()

    public init(path: String, logger: Logger) async throws {
        do {
            connection = try SQLiteConnectionHandle(path: path)
        } catch {
            throw StoreError.unavailable(Self.cannotOpen(path, error))
        }
        do {
            for pragma in [
                "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=10000",
                // The default page cache (2 MiB) is smaller than the hot rows of a busy server
                // (runs, machines, connections): pages were read again from the WAL and the
                // file, 12 % of the server's time in pread under load. 64 MiB at most, filled
                // only as pages are used; the main file is also read through a memory map.
                "PRAGMA cache_size=-65536", "PRAGMA mmap_size=268435456",
            ] {
                _ = try connection.query(pragma, [])
            }
        } catch {
            // A file that opens but cannot be set up (a read-only data dir cannot hold the
            // WAL): close the connection before failing, and say what to do.
            connection.close()
            throw StoreError.unavailable(Self.cannotUse(path, error))
        }
    }

    static func cannotOpen(_ path: String, _ error: any Error) -> String {
        "cannot open the SQLite database at \(path): \(error)"
    }

    /// The operator's message for a database that cannot be used.
    static func cannotUse(_ path: String, _ error: any Error) -> String {
        let code = (error as? SQLiteError)?.primaryCode
        if code == SQLITE_READONLY || code == SQLITE_CANTOPEN {
            return "cannot write the SQLite database at \(path): its directory or file system is read-only (\(error))"
        }
        return "cannot use the SQLite database at \(path): \(error)"
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        let connection = SQLiteTransactionConnection(handle: connection)
        return try await lock.withLock {
            try connection.run("BEGIN IMMEDIATE")
            do {
                let result = try await body(connection)
                try connection.run("COMMIT")
                return result
            } catch {
                try? connection.run("ROLLBACK")
                throw error
            }
        }
    }

    public func close() async throws {
        try await lock.withLock { connection.close() }
    }
}

/// The connection as a transaction sees it: statements and their errors as the store's.
struct SQLiteTransactionConnection: SQLConnection {
    let handle: SQLiteConnectionHandle

    func run(_ sql: String) throws {
        _ = try rows(sql, [])
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        try rows(sql, binds)
    }

    private func rows(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        do {
            return try handle.query(sql, binds)
        } catch let error as SQLiteError {
            throw error.storeError
        }
    }
}

/// An error from SQLite: its message and result code.
struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String

    var description: String { "\(message) (SQLite result code \(code))" }

    /// The result code without its extended part (`SQLITE_CONSTRAINT_UNIQUE` → `SQLITE_CONSTRAINT`).
    var primaryCode: Int32 { code & 0xff }

    /// The error as the store reports it to the API caller or the operator.
    var storeError: StoreError {
        switch primaryCode {
        case SQLITE_CONSTRAINT: .conflict(description)
        // The transaction was rolled back; the store is intact.
        case SQLITE_FULL: .unavailable(DiskFull.message)
        default: .unavailable("database error: \(description)")
        }
    }
}

/// One sqlite3 connection and its prepared statements. Not thread-safe by itself: the
/// owner serializes every call (`SQLiteDatabase` holds its lock around each transaction).
final class SQLiteConnectionHandle: @unchecked Sendable {
    private var db: OpaquePointer?
    private var statements: [String: Statement] = [:]
    /// More distinct statements than this means queries are built with values in their text
    /// (they are not); the cache is then emptied rather than grown.
    private static let cacheLimit = 512

    private struct Statement {
        var pointer: OpaquePointer
        var columns: [String]
    }

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            sqlite3_close_v2(db)
            throw SQLiteError(code: status, message: message)
        }
        self.db = db
    }

    deinit { close() }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement.pointer) }
        statements.removeAll()
        if let db { sqlite3_close_v2(db) }
        db = nil
    }

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        guard let db else { throw SQLiteError(code: SQLITE_MISUSE, message: "the database is closed") }
        var statement = try prepared(sql, db: db)
        let pointer = statement.pointer
        defer {
            sqlite3_reset(pointer)
            sqlite3_clear_bindings(pointer)
        }
        guard Int(sqlite3_bind_parameter_count(pointer)) == binds.count else {
            throw SQLiteError(
                code: SQLITE_RANGE,
                message: "\(binds.count) values for \(sqlite3_bind_parameter_count(pointer)) parameters in: \(sql)")
        }
        for (offset, value) in binds.enumerated() {
            let status = Self.bind(value, at: Int32(offset + 1), in: pointer)
            guard status == SQLITE_OK else { throw error(status, db: db) }
        }
        var rows: [SQLRow] = []
        while true {
            let status = sqlite3_step(pointer)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(status, db: db) }
            // SQLite prepares a cached statement again by itself after a schema change (another
            // process migrated), during the step: its columns are read again if they changed.
            if rows.isEmpty, Int(sqlite3_column_count(pointer)) != statement.columns.count {
                statement.columns = Self.columnNames(pointer)
                statements[sql] = statement
            }
            var values: [String: SQLValue] = [:]
            values.reserveCapacity(statement.columns.count)
            for (index, name) in statement.columns.enumerated() {
                values[name] = Self.column(Int32(index), of: pointer)
            }
            rows.append(SQLRow(values: values))
        }
    }

    private func prepared(_ sql: String, db: OpaquePointer) throws -> Statement {
        if let statement = statements[sql] { return statement }
        var pointer: OpaquePointer?
        var rest = ""
        let status = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            let status = sqlite3_prepare_v3(db, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, &tail)
            if let tail { rest = String(cString: tail).trimmingCharacters(in: .whitespacesAndNewlines) }
            return status
        }
        guard status == SQLITE_OK, let pointer else { throw error(status, db: db) }
        // SQLite prepares the first statement of a text only: a second one would be skipped.
        guard rest.isEmpty || rest == ";" else {
            sqlite3_finalize(pointer)
            throw SQLiteError(code: SQLITE_MISUSE, message: "one statement per query, found more in: \(sql)")
        }
        let statement = Statement(pointer: pointer, columns: Self.columnNames(pointer))
        if statements.count >= Self.cacheLimit {
            for old in statements.values { sqlite3_finalize(old.pointer) }
            statements.removeAll()
        }
        statements[sql] = statement
        return statement
    }

    private static func columnNames(_ statement: OpaquePointer) -> [String] {
        (0..<sqlite3_column_count(statement)).map { String(cString: sqlite3_column_name(statement, $0)) }
    }

    private func error(_ status: Int32, db: OpaquePointer) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(db), message: String(cString: sqlite3_errmsg(db)))
    }

    private static func bind(_ value: SQLValue, at index: Int32, in statement: OpaquePointer) -> Int32 {
        switch value {
        case .null:
            return sqlite3_bind_null(statement, index)
        case .int(let value):
            return sqlite3_bind_int64(statement, index, value)
        case .double(let value):
            return sqlite3_bind_double(statement, index, value)
        case .text(var value):
            // An empty buffer has no base address, and a NULL pointer would bind SQL NULL.
            return value.withUTF8 { bytes in
                guard let base = bytes.baseAddress else {
                    return sqlite3_bind_text(statement, index, "", 0, csqlite_transient())
                }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text(statement, index, $0, Int32(bytes.count), csqlite_transient())
                }
            }
        case .blob(let value):
            if value.isEmpty { return sqlite3_bind_zeroblob(statement, index, 0) }
            return value.withUnsafeBytes { bytes in
                sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), csqlite_transient())
            }
        }
    }

    private static func column(_ index: Int32, of statement: OpaquePointer) -> SQLValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .int(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .double(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, index) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }
}
