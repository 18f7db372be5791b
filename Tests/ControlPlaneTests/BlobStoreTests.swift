import ControlPlane
import Crypto
import Foundation
import NIOCore
import ServerTestSupport
import Testing

/// What every `BlobStore` must do: files under the data directory (the embedded store) and
/// chunks in the database (replicas on PostgreSQL), the latter on every store engine.
@Suite("Blob stores")
struct BlobStoreTests {
    struct Kind: Sendable, CustomTestStringConvertible {
        let name: String
        let withBlobs: @Sendable (@Sendable (any BlobStore) async throws -> Void) async throws -> Void
        var testDescription: String { name }
    }

    static let kinds: [Kind] =
        [
            Kind(name: "files") { body in
                let directory = try TemporaryDirectory()
                defer { directory.remove() }
                try await body(try FileBlobStore(directory: directory.path + "/blobs"))
            }
        ]
        + StoreFactory.all.map { factory in
            Kind(name: "database (\(factory.name))") { body in
                try await factory.withStore { store in
                    let sql = try #require(store as? SQLStore)
                    try await body(DatabaseBlobStore(database: sql.database))
                }
            }
        }

    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    static func body(_ bytes: [UInt8], pieces: Int) -> [ByteBuffer] {
        let size = max(1, bytes.count / pieces)
        return stride(from: 0, to: bytes.count, by: size).map {
            ByteBuffer(bytes: bytes[$0..<min($0 + size, bytes.count)])
        }
    }

    static func readAll(_ reader: any BlobReader) async throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = try await reader.next()
            if chunk.isEmpty { return all }
            all += chunk
        }
    }

    @Test("put, get, read in chunks and delete, by SHA-256", arguments: kinds)
    func roundTrip(kind: Kind) async throws {
        try await kind.withBlobs { blobs in
            for size in [0, 1, 70_000, (1 << 20) * 2 + 123] {
                let bytes = Self.bytes(size, seed: 7)
                let digest = try await blobs.put(bytes)
                #expect(digest == SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined())
                #expect(try await blobs.get(digest) == bytes)
                let reader = try #require(try await blobs.reader(digest))
                #expect(reader.size == Int64(size))
                #expect(try await Self.readAll(reader) == bytes)
                // The same content again is the same blob.
                #expect(try await blobs.put(bytes) == digest)
                try await blobs.delete(digest)
                #expect(try await blobs.get(digest) == nil)
                #expect(try await blobs.reader(digest) == nil)
            }
        }
    }

    @Test("a streamed upload is stored whole under its digest, across chunk boundaries", arguments: kinds)
    func streamed(kind: Kind) async throws {
        try await kind.withBlobs { blobs in
            let bytes = Self.bytes((1 << 20) * 3 + 17, seed: 3)
            let (digest, size) = try await blobs.put(
                streaming: Self.body(bytes, pieces: 7).async, maxBytes: bytes.count)
            #expect(size == Int64(bytes.count))
            #expect(digest == (try await blobs.put(bytes)))
            #expect(try await blobs.get(digest) == bytes)
            // Uploading content that is already stored keeps one copy that reads back whole.
            let again = try await blobs.put(streaming: Self.body(bytes, pieces: 3).async, maxBytes: bytes.count)
            #expect(again.sha256 == digest)
            #expect(try await Self.readAll(try #require(try await blobs.reader(digest))) == bytes)
        }
    }

    @Test("an upload over the limit is refused and leaves nothing behind", arguments: kinds)
    func tooLarge(kind: Kind) async throws {
        try await kind.withBlobs { blobs in
            let bytes = Self.bytes((1 << 20) + 10, seed: 9)
            await #expect(throws: ControlPlaneError.self) {
                _ = try await blobs.put(streaming: Self.body(bytes, pieces: 4).async, maxBytes: 1 << 20)
            }
            // The part that was under the limit is not stored under any digest.
            let prefix = Array(bytes.prefix(1 << 20))
            #expect(try await blobs.get(Self.digest(prefix)) == nil)
            if let database = blobs as? DatabaseBlobStore {
                let chunks = try await database.database.transaction {
                    try await $0.first("SELECT COUNT(*) AS n FROM blob_chunks")?.int("n")
                }
                #expect(chunks == 0, "the refused upload's chunks were left behind")
            }
        }
    }

    @Test("a digest that is not lowercase SHA-256 hex is refused", arguments: kinds)
    func badDigest(kind: Kind) async throws {
        try await kind.withBlobs { blobs in
            for bad in ["../../etc/passwd", String(repeating: "A", count: 64), "abc"] {
                await #expect(throws: BlobError.self) { _ = try await blobs.get(bad) }
            }
        }
    }

    static func digest(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence, for streamed-upload bodies.
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
