import Crypto
import FoundationEssentials
import NIOCore
import Synchronization

/// Blobs inside the database, in 1 MiB chunks, so that replicas on one PostgreSQL database
/// read every attachment without a shared file system. Written in the store's portable SQL
/// (`blobs` and `blob_chunks`, migration 6); the embedded SQLite store keeps blobs as files.
///
/// An upload streams into chunks under a temporary key, each chunk committed on its own, so
/// a large file never sits in memory or in one long transaction; when the body ends, the
/// chunks are renamed to the digest in one transaction (or dropped when that blob is already
/// stored). Temporary chunks of an upload that never finished are removed by the sweeper.
public struct DatabaseBlobStore: BlobStore {
    public let database: any SQLDatabase
    static let chunkSize = 1 << 20

    public init(database: any SQLDatabase) {
        self.database = database
    }

    public func put(_ bytes: [UInt8]) async throws -> String {
        let digest = Self.digest(bytes)
        let time = Date()
        try await database.transaction { connection in
            if try await Self.exists(digest, connection) { return }
            var seq: Int64 = 0
            for start in stride(from: 0, to: max(bytes.count, 1), by: Self.chunkSize) {
                let chunk = Array(bytes[start..<min(start + Self.chunkSize, bytes.count)])
                try await Self.insertChunk(key: digest, seq: seq, chunk, at: time, connection)
                seq += 1
            }
            try await connection.query(
                "INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?)",
                [.text(digest), .int(Int64(bytes.count)), .date(time)])
        }
        return digest
    }

    public func contains(_ sha256: String) async throws -> Bool {
        try Self.check(sha256)
        return try await database.transaction { try await Self.exists(sha256, $0) }
    }

    public func get(_ sha256: String) async throws -> [UInt8]? {
        try Self.check(sha256)
        return try await database.transaction { connection in
            guard try await Self.exists(sha256, connection) else { return nil }
            var bytes: [UInt8] = []
            for row in try await connection.query(
                "SELECT data FROM blob_chunks WHERE blob_key = ? ORDER BY seq", [.text(sha256)])
            {
                bytes += try row.blob("data")
            }
            return bytes
        }
    }

    public func delete(_ sha256: String) async throws {
        try Self.check(sha256)
        try await database.transaction { connection in
            try await connection.query("DELETE FROM blobs WHERE sha256 = ?", [.text(sha256)])
            try await connection.query("DELETE FROM blob_chunks WHERE blob_key = ?", [.text(sha256)])
        }
    }

    public func put<Body: AsyncSequence & Sendable>(streaming body: Body, maxBytes: Int) async throws -> (
        sha256: String, size: Int64
    ) where Body.Element == ByteBuffer {
        let key = "upload-" + UUID().uuidString.lowercased()
        let time = Date()
        var hasher = SHA256()
        var size = 0
        var seq: Int64 = 0
        var pending: [UInt8] = []
        pending.reserveCapacity(Self.chunkSize)
        do {
            for try await buffer in body {
                size += buffer.readableBytes
                guard size <= maxBytes else {
                    throw ControlPlaneError.tooLarge("the upload is larger than the limit of \(maxBytes) bytes")
                }
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                pending += buffer.readableBytesView
                while pending.count >= Self.chunkSize {
                    let chunk = Array(pending.prefix(Self.chunkSize))
                    pending.removeFirst(Self.chunkSize)
                    try await database.transaction { [seq] in
                        try await Self.insertChunk(key: key, seq: seq, chunk, at: time, $0)
                    }
                    seq += 1
                }
            }
            if !pending.isEmpty || seq == 0 {
                try await database.transaction { [seq, pending] in
                    try await Self.insertChunk(key: key, seq: seq, pending, at: time, $0)
                }
            }
            let digest = hasher.finalize().map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined()
            try await database.transaction { [size] connection in
                if try await Self.exists(digest, connection) {
                    try await connection.query("DELETE FROM blob_chunks WHERE blob_key = ?", [.text(key)])
                } else {
                    try await connection.query(
                        "UPDATE blob_chunks SET blob_key = ? WHERE blob_key = ?", [.text(digest), .text(key)])
                    try await connection.query(
                        "INSERT INTO blobs (sha256, size, created_at) VALUES (?, ?, ?)",
                        [.text(digest), .int(Int64(size)), .date(time)])
                }
            }
            return (digest, Int64(size))
        } catch {
            try? await database.transaction {
                try await $0.query("DELETE FROM blob_chunks WHERE blob_key = ?", [.text(key)])
            }
            throw error
        }
    }

    public func reader(_ sha256: String) async throws -> (any BlobReader)? {
        try Self.check(sha256)
        let row = try await database.transaction {
            try await $0.first("SELECT size FROM blobs WHERE sha256 = ?", [.text(sha256)])
        }
        guard let row else { return nil }
        return DatabaseBlobReader(database: database, key: sha256, size: try row.int("size"))
    }

    /// Removes the chunks of uploads that started before `date` and never finished.
    public func deleteAbandonedUploads(startedBefore date: Date) async throws {
        try await database.transaction {
            try await $0.query(
                "DELETE FROM blob_chunks WHERE blob_key LIKE 'upload-%' AND created_at < ?", [.date(date)])
        }
    }

    static func exists(_ digest: String, _ connection: any SQLConnection) async throws -> Bool {
        try await connection.first("SELECT size FROM blobs WHERE sha256 = ?", [.text(digest)]) != nil
    }

    static func insertChunk(key: String, seq: Int64, _ chunk: [UInt8], at time: Date, _ connection: any SQLConnection)
        async throws
    {
        try await connection.query(
            "INSERT INTO blob_chunks (blob_key, seq, data, created_at) VALUES (?, ?, ?, ?)",
            [.text(key), .int(seq), .blob(chunk), .date(time)])
    }

    static func check(_ sha256: String) throws {
        guard sha256.count == 64, sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw BlobError.badDigest(sha256)
        }
    }
}

/// Reads a database blob one chunk per call.
final class DatabaseBlobReader: BlobReader {
    let database: any SQLDatabase
    let key: String
    let size: Int64
    private let position = Mutex<Int64>(0)

    init(database: any SQLDatabase, key: String, size: Int64) {
        self.database = database
        self.key = key
        self.size = size
    }

    func next() async throws -> [UInt8] {
        let seq = position.withLock { value -> Int64 in
            defer { value += 1 }
            return value
        }
        let row = try await database.transaction { [key] in
            try await $0.first("SELECT data FROM blob_chunks WHERE blob_key = ? AND seq = ?", [.text(key), .int(seq)])
        }
        return try row?.blob("data") ?? []
    }
}
