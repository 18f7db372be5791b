/// What the SQL store needs from a database engine: transactions on one connection, and
/// a dialect for the few places the engines differ. Queries use `?` placeholders; engines
/// that number their parameters rewrite them.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }

    /// Runs `body` in a transaction that commits when it returns and rolls back when it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T

    /// Runs `body`, which only reads and takes no row locks, where each statement sees what
    /// was committed when it starts — what a READ COMMITTED transaction gives a reader. An
    /// engine may skip `BEGIN`/`COMMIT` (two round trips to PostgreSQL for a one-query read,
    /// such as checking the credential of every request).
    func read<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T

    func close() async throws
}

extension SQLDatabase {
    public func read<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await transaction(body)
    }
}

/// One connection inside a transaction.
public protocol SQLConnection: Sendable {
    @discardableResult
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]
}

extension SQLConnection {
    @discardableResult
    public func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }

    public func first(_ sql: String, _ binds: [SQLValue] = []) async throws -> SQLRow? {
        try await query(sql, binds).first
    }
}

/// Where SQLite and PostgreSQL differ.
public struct SQLDialect: Sendable {
    public var name: String
    /// Appended to `SELECT`s that pick rows to change, so concurrent writers skip rows
    /// another transaction holds instead of waiting for them (empty for SQLite, whose
    /// writers are serialized anyway).
    public var skipLockedClause: String
    /// Appended to `SELECT`s that read a row the transaction will update.
    public var forUpdateClause: String
    /// The type of large binary columns.
    public var blobType: String
    /// Run first in the migration transaction so that replicas starting together migrate
    /// one at a time (nil for SQLite, whose `BEGIN IMMEDIATE` already serializes them).
    public var migrationLock: String?

    public init(
        name: String, skipLockedClause: String, forUpdateClause: String, blobType: String, migrationLock: String?
    ) {
        self.name = name
        self.skipLockedClause = skipLockedClause
        self.forUpdateClause = forUpdateClause
        self.blobType = blobType
        self.migrationLock = migrationLock
    }

    /// An expression giving, for each row, a JSON object (as text) of `count` top-level
    /// fields of the JSON text column `column`; the query binds each field's name twice, as
    /// key and as path (`fieldBinds`). Missing fields are null.
    public func jsonFields(of column: String, count: Int) -> String {
        let pairs = Array(repeating: name == "postgres" ? "?, \(column)::jsonb -> ?" : "?, json(\(column) -> ?)", count: count)
        let joined = pairs.joined(separator: ", ")
        return name == "postgres" ? "jsonb_build_object(\(joined))::text" : "json_object(\(joined))"
    }

    /// The text of the top-level string field `key` (a constant) of the JSON text column
    /// `column`, null when missing or null.
    public func jsonTextField(of column: String, _ key: StaticString) -> String {
        name == "postgres" ? "(\(column)::jsonb ->> '\(key)')" : "json_extract(\(column), '$.\(key)')"
    }

    /// The binds `jsonFields` needs for `fields`, in order.
    public func fieldBinds(_ fields: [String]) -> [SQLValue] {
        fields.flatMap { field -> [SQLValue] in [.text(field), .text(name == "postgres" ? field : "$.\"\(field)\"")] }
    }

    public static let sqlite = SQLDialect(
        name: "sqlite", skipLockedClause: "", forUpdateClause: "", blobType: "BLOB", migrationLock: nil)
    public static let postgres = SQLDialect(
        name: "postgres", skipLockedClause: " FOR UPDATE SKIP LOCKED", forUpdateClause: " FOR UPDATE",
        blobType: "BYTEA", migrationLock: "SELECT pg_advisory_xact_lock(\(AdvisoryLock.migrations))")
}

/// Advisory lock keys, one per job that only one replica may run at a time.
public enum AdvisoryLock {
    public static let migrations: Int64 = 0x6379_6264_0001
    public static let sweeps: Int64 = 0x6379_6264_0002
    public static let idempotency: Int64 = 0x6379_6264_0003
}
