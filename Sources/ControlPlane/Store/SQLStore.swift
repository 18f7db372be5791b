import CyberdeskAPI
import FoundationEssentials

/// The store written once in portable SQL, over any `SQLDatabase` (SQLite or PostgreSQL). Engine differences live in `SQLDialect`.
public struct SQLStore: Store {
    public let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    public func migrate() async throws {
        let steps = Migrations.steps(database.dialect)
        try await database.transaction { connection in
            if let lock = database.dialect.migrationLock { try await connection.query(lock) }
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
            let applied = Set(
                try await connection.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
            if let newest = applied.max(), newest > (steps.map(\.version).max() ?? 0) {
                throw StoreError.corrupt(
                    "the database schema is version \(newest), newer than this cyberdesk-server knows; upgrade the server"
                )
            }
            for step in steps where !applied.contains(Int64(step.version)) {
                for statement in step.statements {
                    try await connection.query(statement)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.int(Int64(step.version)), .date(Date())])
            }
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        let dialect = database.dialect
        return try await database.transaction { connection in
            try await body(SQLStoreTransaction(connection: connection, dialect: dialect))
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        let dialect = database.dialect
        return try await database.read { connection in
            try await body(SQLStoreTransaction(connection: connection, dialect: dialect))
        }
    }

    public func ping() async -> Bool {
        (try? await database.transaction { try await $0.query("SELECT 1 AS one").count == 1 }) ?? false
    }

    public func close() async throws { try await database.close() }

    public func exclusively<T: Sendable>(_ key: Int64, _ body: @Sendable () async throws -> T) async throws -> T? {
        guard let postgres = database as? PostgresDatabase else { return try await body() }
        return try await postgres.exclusively(key, body)
    }

    public var cluster: (any ClusterChannel)? { database as? PostgresDatabase }
}

struct SQLStoreTransaction: StoreTransaction {
    let connection: any SQLConnection
    let dialect: SQLDialect

    private static let encoder = APIJSON.encoder()

    private func encode<R: Encodable>(_ record: R) throws -> String {
        String(decoding: try Self.encoder.encode(record), as: UTF8.self)
    }

    private func decode<R: Decodable>(_ type: R.Type, _ row: SQLRow) throws -> R {
        let text = try row.text("doc")
        do {
            return try APIJSON.decode(type, from: text)
        } catch {
            throw StoreError.corrupt("cannot read a stored \(R.self): \(error)")
        }
    }

    // MARK: Records

    func insert<R: StoredRecord>(_ record: R) async throws {
        let columns = record.columns
        let names = ["id", "organization_id", "doc"] + columns.map(\.0)
        let placeholders = Array(repeating: "?", count: names.count).joined(separator: ", ")
        try await connection.query(
            "INSERT INTO \(R.table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))",
            [.text(record.id), .text(record.organizationID), .text(try encode(record))] + columns.map(\.1))
    }

    func save<R: StoredRecord>(_ record: R) async throws {
        let columns = record.columns
        let assignments = (["doc"] + columns.map(\.0)).map { "\($0) = ?" }.joined(separator: ", ")
        try await connection.query(
            "UPDATE \(R.table) SET \(assignments) WHERE id = ? AND organization_id = ?",
            [.text(try encode(record))] + columns.map(\.1) + [.text(record.id), .text(record.organizationID)])
    }

    func fetch<R: StoredRecord>(_ type: R.Type, id: String, organizationID: String?, forUpdate: Bool) async throws
        -> R?
    {
        var sql = "SELECT doc FROM \(R.table) WHERE id = ?"
        var binds: [SQLValue] = [.text(id)]
        if let organizationID {
            sql += " AND organization_id = ?"
            binds.append(.text(organizationID))
        }
        if forUpdate { sql += dialect.forUpdateClause }
        return try await connection.first(sql, binds).map { try decode(R.self, $0) }
    }

    func delete<R: StoredRecord>(_ type: R.Type, id: String, organizationID: String) async throws -> Bool {
        let rows = try await connection.query(
            "DELETE FROM \(R.table) WHERE id = ? AND organization_id = ? RETURNING id",
            [.text(id), .text(organizationID)])
        return !rows.isEmpty
    }

    func list<R: StoredRecord>(
        _ type: R.Type, organizationID: String, filters: [RecordFilter], order: RecordOrder, skip: Int, limit: Int
    ) async throws -> (items: [R], total: Int) {
        let (rows, total) = try await listRows(
            R.self, organizationID: organizationID, filters: filters, order: order, skip: skip, limit: limit)
        return (try rows.map { try decode(R.self, $0) }, total)
    }

    func listFields<R: StoredRecord>(
        _ type: R.Type, _ fields: [String], organizationID: String, filters: [RecordFilter], order: RecordOrder,
        skip: Int, limit: Int
    ) async throws -> (items: [JSONObject], total: Int) {
        let columns = R.fieldColumns.union(["id"])
        if fields.allSatisfy(columns.contains) {
            // Every field has its column: the documents are not read at all.
            let (rows, total) = try await listRows(
                R.self, organizationID: organizationID, filters: filters, order: order, skip: skip, limit: limit,
                select: (fields.joined(separator: ", "), []))
            let items = rows.map { row in
                JSONObject(uniqueKeysWithValues: fields.map { ($0, row.optionalText($0).map(JSONValue.string) ?? .null) })
            }
            return (items, total)
        }
        let (rows, total) = try await listRows(
            R.self, organizationID: organizationID, filters: filters, order: order, skip: skip, limit: limit,
            select: (dialect.jsonFields(of: "doc", count: fields.count) + " AS doc", dialect.fieldBinds(fields)))
        let items = try rows.map { row -> JSONObject in
            guard case .object(let document) = try? JSONParser.parse(try row.text("doc")) else {
                throw StoreError.corrupt("cannot read the fields of a stored \(R.self)")
            }
            return document
        }
        return (items, total)
    }

    /// The rows of a page: `select` is the expression and binds of what each row holds
    /// (the document by default).
    private func listRows<R: StoredRecord>(
        _ type: R.Type, organizationID: String, filters: [RecordFilter], order: RecordOrder, skip: Int, limit: Int,
        select: (expression: String, binds: [SQLValue]) = ("doc", [])
    ) async throws -> (rows: [SQLRow], total: Int) {
        var clauses = ["organization_id = ?"]
        var binds: [SQLValue] = [.text(organizationID)]
        for filter in filters {
            switch filter {
            case .equals(let column, let value):
                clauses.append("\(column) = ?")
                binds.append(value)
            case .anyEquals(let columns, let value):
                clauses.append("(" + columns.map { "\($0) = ?" }.joined(separator: " OR ") + ")")
                binds += Array(repeating: value, count: columns.count)
            case .isNull(let column):
                clauses.append("\(column) IS NULL")
            case .oneOf(let column, let values):
                guard !values.isEmpty else {
                    clauses.append("1 = 0")
                    continue
                }
                clauses.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ", ")))")
                binds += values
            case .atLeast(let column, let value):
                clauses.append("\(column) >= ?")
                binds.append(value)
            case .atMost(let column, let value):
                clauses.append("\(column) <= ?")
                binds.append(value)
            case .contains(let columns, let text):
                let pattern =
                    "%"
                    + text.lowercased().replacing("\\", with: "\\\\").replacing("%", with: "\\%")
                    .replacing("_", with: "\\_") + "%"
                // The columns hold text lowercased in Swift (`search_text`), so no engine's
                // ASCII-only LOWER() is involved.
                clauses.append("(" + columns.map { "\($0) LIKE ? ESCAPE '\\'" }.joined(separator: " OR ") + ")")
                binds += Array(repeating: .text(pattern), count: columns.count)
            }
        }
        let condition = clauses.joined(separator: " AND ")
        let total = try await connection.first("SELECT COUNT(*) AS n FROM \(R.table) WHERE \(condition)", binds)
        let rows = try await connection.query(
            "SELECT \(select.expression) FROM \(R.table) WHERE \(condition) ORDER BY \(order.sql) LIMIT ? OFFSET ?",
            select.binds + binds + [.int(Int64(limit)), .int(Int64(skip))])
        return (rows, Int(try total?.int("n") ?? 0))
    }

    // MARK: Organizations and keys

    private func organization(_ row: SQLRow) throws -> Organization {
        Organization(id: try row.text("id"), name: try row.text("name"), createdAt: try row.date("created_at"))
    }

    func organization(named name: String) async throws -> Organization? {
        try await connection.first("SELECT * FROM organizations WHERE name = ?", [.text(name)]).map(organization)
    }

    func organization(id: String) async throws -> Organization? {
        try await connection.first("SELECT * FROM organizations WHERE id = ?", [.text(id)]).map(organization)
    }

    func insertOrganization(_ organization: Organization) async throws {
        try await connection.query(
            "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)",
            [.text(organization.id), .text(organization.name), .date(organization.createdAt)])
    }

    func organizationCount() async throws -> Int {
        Int(try await connection.first("SELECT COUNT(*) AS n FROM organizations")?.int("n") ?? 0)
    }

    private func apiKey(_ row: SQLRow) throws -> APIKeyRecord {
        APIKeyRecord(
            id: try row.text("id"), organizationID: try row.text("organization_id"), name: try row.text("name"),
            prefix: try row.text("prefix"), hash: try row.text("key_hash"), createdAt: try row.date("created_at"),
            revokedAt: row.optionalDate("revoked_at"))
    }

    func insertAPIKey(_ key: APIKeyRecord) async throws {
        try await connection.query(
            """
            INSERT INTO api_keys (id, organization_id, name, prefix, key_hash, created_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(key.id), .text(key.organizationID), .text(key.name), .text(key.prefix), .text(key.hash),
                .date(key.createdAt), .optional(key.revokedAt),
            ])
    }

    func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await connection.first("SELECT * FROM api_keys WHERE key_hash = ?", [.text(hash)]).map(apiKey)
    }

    func apiKeys() async throws -> [APIKeyRecord] {
        try await connection.query("SELECT * FROM api_keys ORDER BY created_at, id").map(apiKey)
    }

    func saveAPIKey(_ key: APIKeyRecord) async throws {
        try await connection.query(
            "UPDATE api_keys SET name = ?, revoked_at = ? WHERE id = ?",
            [.text(key.name), .optional(key.revokedAt), .text(key.id)])
    }

    private func token(_ row: SQLRow) throws -> RegistrationTokenRecord {
        let pools = try APIJSON.decoder().decode([String].self, from: Data(try row.text("pool_names").utf8))
        return RegistrationTokenRecord(
            id: try row.text("id"), organizationID: try row.text("organization_id"), hash: try row.text("token_hash"),
            poolNames: pools, expiresAt: try row.date("expires_at"), usedAt: row.optionalDate("used_at"),
            revokedAt: row.optionalDate("revoked_at"), createdAt: try row.date("created_at"))
    }

    func insertRegistrationToken(_ token: RegistrationTokenRecord) async throws {
        try await connection.query(
            """
            INSERT INTO registration_tokens
                (id, organization_id, token_hash, pool_names, expires_at, used_at, revoked_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(token.id), .text(token.organizationID), .text(token.hash), .text(try encode(token.poolNames)),
                .date(token.expiresAt), .optional(token.usedAt), .optional(token.revokedAt), .date(token.createdAt),
            ])
    }

    func registrationTokens(organizationID: String) async throws -> [RegistrationTokenRecord] {
        try await connection.query(
            "SELECT * FROM registration_tokens WHERE organization_id = ? ORDER BY created_at DESC, id DESC",
            [.text(organizationID)]
        ).map(token)
    }

    func deleteWebSessions(keyHash: String) async throws {
        try await connection.query("DELETE FROM web_sessions WHERE key_hash = ?", [.text(keyHash)])
    }

    func registrationToken(hash: String) async throws -> RegistrationTokenRecord? {
        try await connection.first(
            "SELECT * FROM registration_tokens WHERE token_hash = ?" + dialect.forUpdateClause, [.text(hash)]
        ).map(token)
    }

    func saveRegistrationToken(_ token: RegistrationTokenRecord) async throws {
        try await connection.query(
            "UPDATE registration_tokens SET used_at = ?, revoked_at = ? WHERE id = ?",
            [.optional(token.usedAt), .optional(token.revokedAt), .text(token.id)])
    }

    // MARK: Pools and machines

    func poolIDs(ofMachine machineID: String) async throws -> [String] {
        try await connection.query(
            """
            SELECT pm.pool_id FROM pool_machines pm JOIN pools p ON p.id = pm.pool_id
            WHERE pm.machine_id = ? ORDER BY p.created_at, p.id
            """, [.text(machineID)]
        ).map { try $0.text("pool_id") }
    }

    func machineIDs(inPool poolID: String) async throws -> [String] {
        try await connection.query(
            """
            SELECT pm.machine_id FROM pool_machines pm JOIN machines m ON m.id = pm.machine_id
            WHERE pm.pool_id = ? ORDER BY m.created_at, m.id
            """, [.text(poolID)]
        ).map { try $0.text("machine_id") }
    }

    func machineCounts(pools poolIDs: [String]) async throws -> [String: Int] {
        guard !poolIDs.isEmpty else { return [:] }
        let placeholders = Array(repeating: "?", count: poolIDs.count).joined(separator: ", ")
        var counts = Dictionary(uniqueKeysWithValues: poolIDs.map { ($0, 0) })
        for row in try await connection.query(
            "SELECT pool_id, COUNT(*) AS n FROM pool_machines WHERE pool_id IN (\(placeholders)) GROUP BY pool_id",
            poolIDs.map { .text($0) })
        {
            counts[try row.text("pool_id")] = Int(try row.int("n"))
        }
        return counts
    }

    func addMachines(_ machineIDs: [String], toPool poolID: String) async throws {
        for machineID in machineIDs {
            try await connection.query(
                "INSERT INTO pool_machines (pool_id, machine_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [.text(poolID), .text(machineID)])
        }
    }

    func removeMachines(_ machineIDs: [String], fromPool poolID: String) async throws {
        for machineID in machineIDs {
            try await connection.query(
                "DELETE FROM pool_machines WHERE pool_id = ? AND machine_id = ?", [.text(poolID), .text(machineID)])
        }
    }

    func setPools(_ poolIDs: [String], ofMachine machineID: String) async throws {
        try await connection.query("DELETE FROM pool_machines WHERE machine_id = ?", [.text(machineID)])
        for poolID in Set(poolIDs) {
            try await connection.query(
                "INSERT INTO pool_machines (pool_id, machine_id) VALUES (?, ?)", [.text(poolID), .text(machineID)])
        }
    }

    func detachRuns(fromMachine machineID: String) async throws {
        let rows = try await connection.query(
            "SELECT doc FROM runs WHERE pinned_machine_id = ? OR assigned_machine_id = ?",
            [.text(machineID), .text(machineID)])
        for row in rows {
            var stored = try decode(StoredRun.self, row)
            if stored.pinnedMachineID == machineID { stored.pinnedMachineID = nil }
            if stored.assignedMachineID == machineID { stored.assignedMachineID = nil }
            if stored.run.machineID == machineID { stored.run.machineID = nil }
            try await save(stored)
        }
    }

    // MARK: Runs and sessions

    func setRunPools(_ poolIDs: [String], run runID: String) async throws {
        try await connection.query("DELETE FROM run_pools WHERE run_id = ?", [.text(runID)])
        for poolID in Set(poolIDs) {
            try await connection.query(
                "INSERT INTO run_pools (run_id, pool_id) VALUES (?, ?)", [.text(runID), .text(poolID)])
        }
    }

    private func session(_ row: SQLRow) throws -> SessionRecord {
        SessionRecord(
            id: try row.text("id"), organizationID: try row.text("organization_id"),
            machineID: row.optionalText("machine_id"), isOpen: try row.bool("is_open"),
            createdAt: try row.date("created_at"))
    }

    func insertSession(_ session: SessionRecord) async throws {
        try await connection.query(
            "INSERT INTO sessions (id, organization_id, machine_id, is_open, created_at) VALUES (?, ?, ?, ?, ?)",
            [
                .text(session.id), .text(session.organizationID), .optional(session.machineID), .bool(session.isOpen),
                .date(session.createdAt),
            ])
    }

    func session(id: String, forUpdate: Bool) async throws -> SessionRecord? {
        try await connection.first(
            "SELECT * FROM sessions WHERE id = ?" + (forUpdate ? dialect.forUpdateClause : ""), [.text(id)]
        ).map(session)
    }

    func saveSession(_ session: SessionRecord) async throws {
        try await connection.query(
            "UPDATE sessions SET machine_id = ?, is_open = ? WHERE id = ?",
            [.optional(session.machineID), .bool(session.isOpen), .text(session.id)])
    }

    func runs(inSession sessionID: String) async throws -> [StoredRun] {
        try await connection.query(
            "SELECT doc FROM runs WHERE session_id = ? ORDER BY sequence, id", [.text(sessionID)]
        ).map { try decode(StoredRun.self, $0) }
    }

    private static let activeStatuses = "('scheduling', 'running', 'running_checks')"

    func nextRunCandidate(forMachine machine: Machine) async throws -> StoredRun? {
        guard machine.status == .connected, machine.isAvailable else { return nil }
        let busy = try await connection.first(
            "SELECT id FROM runs WHERE holds_machine = ?", [.text(machine.id)])
        guard busy == nil else { return nil }
        let row: SQLRow?
        if let sessionID = machine.reservedSessionID {
            // A machine held by a session takes only that session's runs, in creation order.
            row = try await connection.first(
                """
                SELECT doc FROM runs
                WHERE session_id = ? AND status = 'scheduling' AND assigned_machine_id IS NULL
                  AND (pinned_machine_id IS NULL OR pinned_machine_id = ?)
                ORDER BY sequence, id LIMIT 1\(dialect.skipLockedClause)
                """, [.text(sessionID), .text(machine.id)])
        } else {
            row = try await connection.first(
                """
                SELECT r.doc FROM runs r
                WHERE r.organization_id = ? AND r.status = 'scheduling' AND r.assigned_machine_id IS NULL
                  AND (r.pinned_machine_id = ? OR (r.pinned_machine_id IS NULL AND NOT EXISTS (
                        SELECT 1 FROM run_pools rp WHERE rp.run_id = r.id AND NOT EXISTS (
                          SELECT 1 FROM pool_machines pm WHERE pm.pool_id = rp.pool_id AND pm.machine_id = ?))))
                  AND (r.session_id IS NULL OR (
                        EXISTS (SELECT 1 FROM sessions s
                                WHERE s.id = r.session_id AND s.is_open = 1 AND s.machine_id IS NULL)
                        AND NOT EXISTS (SELECT 1 FROM runs e
                                WHERE e.session_id = r.session_id AND e.sequence < r.sequence
                                  AND e.status IN \(Self.activeStatuses))))
                ORDER BY r.is_priority DESC, r.sequence, r.id LIMIT 1\(dialect.skipLockedClause)
                """, [.text(machine.organizationID), .text(machine.id), .text(machine.id)])
        }
        return try row.map { try decode(StoredRun.self, $0) }
    }

    func deleteRuns(ofWorkflow workflowID: String) async throws -> [RunAttachment] {
        let attachments = try await connection.query(
            "SELECT a.doc FROM run_attachments a JOIN runs r ON r.id = a.run_id WHERE r.workflow_id = ?",
            [.text(workflowID)]
        ).map { try decode(RunAttachment.self, $0) }
        try await connection.query(
            "DELETE FROM vault_secrets WHERE owner_kind = 'run' AND owner_id IN (SELECT id FROM runs WHERE workflow_id = ?)",
            [.text(workflowID)])
        try await connection.query("DELETE FROM runs WHERE workflow_id = ?", [.text(workflowID)])
        try await connection.query("DELETE FROM trajectories WHERE workflow_id = ?", [.text(workflowID)])
        return attachments
    }

    func attachments(ofRun runID: String) async throws -> [RunAttachment] {
        try await connection.query(
            "SELECT doc FROM run_attachments WHERE run_id = ? ORDER BY created_at, id", [.text(runID)]
        ).map { try decode(RunAttachment.self, $0) }
    }

    func attachmentCount(sha256: String) async throws -> Int {
        Int(
            try await connection.first(
                """
                SELECT (SELECT COUNT(*) FROM run_attachments WHERE sha256 = ?)
                    + (SELECT COUNT(*) FROM prompt_images WHERE sha256 = ?) AS n
                """, [.text(sha256), .text(sha256)]
            )?
            .int("n") ?? 0)
    }

    // MARK: Agents

    func setMachineToken(hash: String?, machineID: String) async throws {
        try await connection.query(
            "UPDATE machines SET token_hash = ? WHERE id = ?", [.optional(hash), .text(machineID)])
    }

    func machine(tokenHash: String) async throws -> Machine? {
        try await connection.first("SELECT doc FROM machines WHERE token_hash = ?", [.text(tokenHash)]).map {
            try decode(Machine.self, $0)
        }
    }

    func machine(fingerprint: String, organizationID: String) async throws -> Machine? {
        try await connection.first(
            "SELECT doc FROM machines WHERE fingerprint = ? AND organization_id = ?" + dialect.forUpdateClause,
            [.text(fingerprint), .text(organizationID)]
        ).map { try decode(Machine.self, $0) }
    }

    func activeRuns(onMachine machineID: String) async throws -> [StoredRun] {
        try await connection.query(
            """
            SELECT doc FROM runs WHERE assigned_machine_id = ? AND status IN \(Self.activeStatuses)
            ORDER BY sequence, id
            """, [.text(machineID)]
        ).map { try decode(StoredRun.self, $0) }
    }

    func idleMachineIDs(organizationID: String, poolIDs: [String], limit: Int) async throws -> [String] {
        var sql = """
            SELECT m.id FROM machines m
            WHERE m.organization_id = ? AND m.status = 'connected' AND m.is_available = 1
              AND m.reserved_session_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.holds_machine = m.id)
            """
        var binds: [SQLValue] = [.text(organizationID)]
        for poolID in Set(poolIDs) {
            sql += " AND EXISTS (SELECT 1 FROM pool_machines pm WHERE pm.machine_id = m.id AND pm.pool_id = ?)"
            binds.append(.text(poolID))
        }
        sql += " ORDER BY m.last_seen, m.id LIMIT ?"
        binds.append(.int(Int64(limit)))
        return try await connection.query(sql, binds).map { try $0.text("id") }
    }

    func waitingRuns(limit: Int) async throws -> [StoredRun] {
        // The first in line and the newest: a backlog nobody can take must not hide new work.
        var runs: [String: StoredRun] = [:]
        for order in ["is_priority DESC, sequence, id", "sequence DESC, id DESC"] {
            for row in try await connection.query(
                """
                SELECT doc FROM runs WHERE status = 'scheduling' AND assigned_machine_id IS NULL
                ORDER BY \(order) LIMIT ?
                """, [.int(Int64(limit))])
            {
                let stored = try decode(StoredRun.self, row)
                runs[stored.id] = stored
            }
        }
        return runs.values.sorted { $0.sequence < $1.sequence }
    }

    func runsToSweep(offeredBefore: Date, leaseBefore: Date) async throws -> [StoredRun] {
        try await connection.query(
            """
            SELECT doc FROM runs
            WHERE status IN \(Self.activeStatuses) AND (
                (lease_expires_at IS NULL AND offered_at IS NOT NULL AND offered_at < ?)
                OR (lease_expires_at IS NOT NULL AND lease_expires_at < ?))
            ORDER BY sequence LIMIT 500\(dialect.skipLockedClause)
            """, [.date(offeredBefore), .date(leaseBefore)]
        ).map { try decode(StoredRun.self, $0) }
    }

    func claimSetting(_ name: String, value: String) async throws -> String {
        try await connection.query(
            "INSERT INTO server_settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", [.text(name), .text(value)])
        return try await connection.first("SELECT value FROM server_settings WHERE name = ?", [.text(name)])?
            .text("value") ?? value
    }

    func insertCommand(_ command: AgentCommand, machineID: String, at time: Date) async throws {
        try await connection.query(
            "INSERT INTO machine_commands (id, machine_id, command, created_at) VALUES (?, ?, ?, ?)",
            [.text(command.commandID), .text(machineID), .text(try encode(command)), .date(time)])
    }

    func takeCommands(machineID: String, deliveredBefore: Date, at time: Date) async throws -> [AgentCommand] {
        let rows = try await connection.query(
            """
            SELECT id, command FROM machine_commands
            WHERE machine_id = ? AND completed_at IS NULL AND (delivered_at IS NULL OR delivered_at < ?)
            ORDER BY created_at, id\(dialect.skipLockedClause)
            """, [.text(machineID), .date(deliveredBefore)])
        var commands: [AgentCommand] = []
        for row in rows {
            try await connection.query(
                "UPDATE machine_commands SET delivered_at = ? WHERE id = ?", [.date(time), .text(try row.text("id"))])
            do {
                commands.append(try APIJSON.decoder().decode(AgentCommand.self, from: Data(try row.text("command").utf8)))
            } catch {
                throw StoreError.corrupt("cannot read a stored command: \(error)")
            }
        }
        return commands
    }

    func completeCommand(id: String, machineID: String, result: CommandResult, at time: Date) async throws -> Bool {
        !(try await connection.query(
            """
            UPDATE machine_commands SET result_status = ?, result_type = ?, result_body = ?, completed_at = ?
            WHERE id = ? AND machine_id = ? AND completed_at IS NULL RETURNING id
            """,
            [
                .int(Int64(result.status)), .text(result.contentType), .blob(result.body), .date(time), .text(id),
                .text(machineID),
            ]
        ).isEmpty)
    }

    func commandResult(id: String) async throws -> CommandResult? {
        guard
            let row = try await connection.first(
                "SELECT result_status, result_type, result_body FROM machine_commands WHERE id = ? AND completed_at IS NOT NULL",
                [.text(id)])
        else { return nil }
        return CommandResult(
            contentType: try row.text("result_type"), body: try row.blob("result_body"),
            status: Int(try row.int("result_status")))
    }

    func deleteCommand(id: String) async throws {
        try await connection.query("DELETE FROM machine_commands WHERE id = ?", [.text(id)])
    }

    func deleteCommands(createdBefore date: Date) async throws {
        try await connection.query("DELETE FROM machine_commands WHERE created_at < ?", [.date(date)])
    }

    func waitingRunsSignature() async throws -> [Int64] {
        let row = try await connection.first(
            """
            SELECT COUNT(*) AS n, COALESCE(MAX(sequence), 0) AS newest FROM runs
            WHERE status = 'scheduling' AND assigned_machine_id IS NULL
            """)
        return [try row?.int("n") ?? 0, try row?.int("newest") ?? 0]
    }

    func machines(connectedAndSeenBefore date: Date) async throws -> [Machine] {
        try await connection.query(
            "SELECT doc FROM machines WHERE status = 'connected' AND last_seen < ? LIMIT 1000", [.date(date)]
        ).map { try decode(Machine.self, $0) }
    }

    // MARK: Vault

    func insertSecret(_ secret: VaultSecret) async throws {
        try await connection.query(
            """
            INSERT INTO vault_secrets (id, organization_id, owner_kind, owner_id, name, sealed, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(secret.id), .text(secret.organizationID), .text(secret.ownerKind.rawValue), .text(secret.ownerID),
                .text(secret.name), .blob(secret.sealed), .date(secret.createdAt),
            ])
    }

    func secrets(ownerKind: VaultSecret.OwnerKind, ownerID: String) async throws -> [VaultSecret] {
        try await connection.query(
            "SELECT * FROM vault_secrets WHERE owner_kind = ? AND owner_id = ? ORDER BY name",
            [.text(ownerKind.rawValue), .text(ownerID)]
        ).map { row in
            VaultSecret(
                id: try row.text("id"), organizationID: try row.text("organization_id"), ownerKind: ownerKind,
                ownerID: ownerID, name: try row.text("name"), sealed: try row.blob("sealed"),
                createdAt: try row.date("created_at"))
        }
    }

    func deleteSecrets(ownerKind: VaultSecret.OwnerKind, ownerID: String) async throws {
        try await connection.query(
            "DELETE FROM vault_secrets WHERE owner_kind = ? AND owner_id = ?",
            [.text(ownerKind.rawValue), .text(ownerID)])
    }

    // MARK: Idempotency

    private func idempotencyEntry(_ row: SQLRow) throws -> IdempotencyEntry {
        IdempotencyEntry(
            organizationID: try row.text("organization_id"), key: try row.text("idempotency_key"),
            method: try row.text("method"), path: try row.text("path"), isComplete: try row.bool("is_complete"),
            status: Int(try row.int("status")), body: try row.blob("body"), createdAt: try row.date("created_at"))
    }

    func beginIdempotentRequest(_ entry: IdempotencyEntry) async throws -> IdempotencyEntry? {
        let inserted = try await connection.query(
            """
            INSERT INTO idempotency_keys (organization_id, idempotency_key, method, path, is_complete, status, body, created_at)
            VALUES (?, ?, ?, ?, 0, 0, ?, ?) ON CONFLICT DO NOTHING RETURNING idempotency_key
            """,
            [
                .text(entry.organizationID), .text(entry.key), .text(entry.method), .text(entry.path), .blob([]),
                .date(entry.createdAt),
            ])
        if !inserted.isEmpty { return nil }
        return try await connection.first(
            "SELECT * FROM idempotency_keys WHERE organization_id = ? AND idempotency_key = ?",
            [.text(entry.organizationID), .text(entry.key)]
        ).map(idempotencyEntry)
    }

    func completeIdempotentRequest(_ entry: IdempotencyEntry) async throws {
        try await connection.query(
            """
            UPDATE idempotency_keys SET is_complete = 1, status = ?, body = ?
            WHERE organization_id = ? AND idempotency_key = ?
            """,
            [.int(Int64(entry.status)), .blob(entry.body), .text(entry.organizationID), .text(entry.key)])
    }

    func abandonIdempotentRequest(organizationID: String, key: String) async throws {
        try await connection.query(
            "DELETE FROM idempotency_keys WHERE organization_id = ? AND idempotency_key = ? AND is_complete = 0",
            [.text(organizationID), .text(key)])
    }

    func deleteIdempotencyEntries(olderThan date: Date) async throws -> Int {
        try await connection.query(
            "DELETE FROM idempotency_keys WHERE created_at < ? RETURNING idempotency_key", [.date(date)]
        ).count
    }
}
