import ControlPlane
import Foundation
import ServerTestSupport
import TestSupport

/// Everything the server has written: every row of every table (read through a second
/// SQLite connection, as `cyberdesk-server keys list` would) and every file of the blob
/// store. Two snapshots are equal when a request changed nothing.
struct StoreSnapshot: Equatable, CustomStringConvertible {
    /// Table name → one line per row, sorted.
    var tables: [String: [String]]
    /// Blob files, relative to the blob directory.
    var blobs: [String]

    /// Rows of an organization the test allows to change (the caller's own) are left out,
    /// and so are rows of other tables that name one of its records.
    static func take(_ server: TestServer, ignoringOrganization ignored: String? = nil) async throws -> StoreSnapshot {
        let database = try await SQLiteDatabase(path: server.dataDirectory.databasePath, logger: .silent)
        let tables = try await database.transaction { connection -> [String: [SQLRow]] in
            let names = try await connection.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            var all: [String: [SQLRow]] = [:]
            for row in names {
                let name = try row.text("name")
                all[name] = try await connection.query("SELECT * FROM \"\(name)\"")
            }
            return all
        }
        try await database.close()

        var ignoredIDs: Set<String> = []
        if let ignored {
            ignoredIDs.insert(ignored)
            for rows in tables.values {
                for row in rows where row.optionalText("organization_id") == ignored {
                    if let id = row.optionalText("id") { ignoredIDs.insert(id) }
                }
            }
        }
        var kept: [String: [String]] = [:]
        for (name, rows) in tables {
            kept[name] = rows.filter { row in
                if let organization = row.optionalText("organization_id") { return organization != ignored }
                return !row.values.values.contains { value in
                    if case .text(let text) = value { return ignoredIDs.contains(text) }
                    return false
                }
            }.map { row in row.values.keys.sorted().map { "\($0)=\(row.values[$0]!)" }.joined(separator: " ") }
                .sorted()
        }
        let blobs = try TemporaryDirectory.files(under: server.dataDirectory.blobsPath)
        return StoreSnapshot(tables: kept, blobs: blobs)
    }

    /// The total number of rows, to show that a snapshot is not trivially empty.
    var rowCount: Int { tables.values.map(\.count).reduce(0, +) }

    var description: String { "\(rowCount) rows, \(blobs.count) blobs" }

    /// What differs, table by table, for a failure message.
    func difference(from other: StoreSnapshot) -> String {
        var lines: [String] = []
        for name in Set(tables.keys).union(other.tables.keys).sorted() {
            let before = Set(other.tables[name] ?? [])
            let after = Set(tables[name] ?? [])
            for row in after.subtracting(before) { lines.append("+ \(name): \(row.prefix(300))") }
            for row in before.subtracting(after) { lines.append("- \(name): \(row.prefix(300))") }
        }
        let beforeBlobs = Set(other.blobs)
        let afterBlobs = Set(blobs)
        for blob in afterBlobs.subtracting(beforeBlobs) { lines.append("+ blob \(blob)") }
        for blob in beforeBlobs.subtracting(afterBlobs) { lines.append("- blob \(blob)") }
        return lines.joined(separator: "\n")
    }
}

extension TemporaryDirectory {
    /// Regular files below `root`, relative to it and sorted; none when it does not exist.
    static func files(under root: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                files.append(relative)
            }
        }
        return files.sorted()
    }
}
