import Crypto
import FoundationEssentials
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where attachment bytes live, addressed by their SHA-256, so the same file given to a
/// thousand runs is stored once.
public protocol BlobStore: Sendable {
    /// Stores `bytes` and returns their SHA-256 in lowercase hex.
    func put(_ bytes: [UInt8]) async throws -> String
    func get(_ sha256: String) async throws -> [UInt8]?
    func delete(_ sha256: String) async throws
    /// Stores a body as it arrives, hashing on the way, never holding it whole in memory.
    /// More than `maxBytes` throws `ControlPlaneError.tooLarge` and stores nothing.
    func put<Body: AsyncSequence & Sendable>(streaming body: Body, maxBytes: Int) async throws -> (
        sha256: String, size: Int64
    ) where Body.Element == ByteBuffer
    /// The blob in chunks, for streamed downloads; nil when it is missing.
    func reader(_ sha256: String) async throws -> (any BlobReader)?
    /// Whether a blob with this digest is stored.
    func contains(_ sha256: String) async throws -> Bool
}

/// Reads one blob from start to end in chunks.
public protocol BlobReader: Sendable {
    var size: Int64 { get }
    /// The next chunk, empty at the end.
    func next() async throws -> [UInt8]
}

/// A blob file, read in 64 KiB chunks.
public final class FileBlobReader: BlobReader {
    let fd: Int32
    public let size: Int64

    init(fd: Int32, size: Int64) {
        self.fd = fd
        self.size = size
    }

    deinit { close(fd) }

    public func next() async throws -> [UInt8] {
        let max = 1 << 16
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, max) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw BlobError.io("cannot read a blob: \(String(cString: strerror(errno)))") }
            return Array(buffer[0..<count])
        }
    }
}

extension BlobStore {
    public static func digest(_ bytes: [UInt8]) -> String { Credentials.sha256(bytes) }
}

/// Blobs as files under a directory: `ab/abcdef…`, written through a temporary file and a
/// rename so a crash never leaves a partial blob under its final name.
public struct FileBlobStore: BlobStore {
    let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try SecretFile.makeDirectory(directory)
    }

    private func path(_ sha256: String) throws -> String {
        try DatabaseBlobStore.check(sha256)
        return directory + "/" + sha256.prefix(2) + "/" + sha256
    }

    public func put(_ bytes: [UInt8]) async throws -> String {
        let digest = Self.digest(bytes)
        let target = try path(digest)
        if try SecretFile.read(target) != nil { return digest }
        try SecretFile.makeDirectory(directory + "/" + digest.prefix(2))
        try SecretFile.write(bytes, to: target)
        return digest
    }

    public func contains(_ sha256: String) async throws -> Bool {
        guard let path = try? path(sha256) else { return false }
        return access(path, F_OK) == 0
    }

    public func get(_ sha256: String) async throws -> [UInt8]? {
        try SecretFile.read(try path(sha256))
    }

    public func delete(_ sha256: String) async throws {
        SecretFile.remove(try path(sha256))
    }

    public func put<Body: AsyncSequence & Sendable>(streaming body: Body, maxBytes: Int) async throws -> (
        sha256: String, size: Int64
    ) where Body.Element == ByteBuffer {
        let temporary = directory + "/upload-\(UUID().uuidString.lowercased())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BlobError.writeFailed(errno: errno) }
        var hasher = SHA256()
        var size = 0
        do {
            defer { close(fd) }
            for try await buffer in body {
                size += buffer.readableBytes
                guard size <= maxBytes else {
                    throw ControlPlaneError.tooLarge("the upload is larger than the limit of \(maxBytes) bytes")
                }
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    var offset = 0
                    while offset < bytes.count {
                        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if written < 0, errno == EINTR { continue }
                        guard written >= 0 else { throw BlobError.writeFailed(errno: errno) }
                        offset += written
                    }
                }
            }
            guard fsync(fd) == 0 else { throw BlobError.writeFailed(errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        let digest = hasher.finalize().map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
        }
        .joined()
        let target = try path(digest)
        try SecretFile.makeDirectory(directory + "/" + digest.prefix(2))
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw BlobError.writeFailed(errno: code)
        }
        return (digest, Int64(size))
    }

    public func reader(_ sha256: String) async throws -> (any BlobReader)? {
        let fd = open(try path(sha256), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw BlobError.io("cannot read a blob: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw BlobError.io("cannot read a blob: \(String(cString: strerror(errno)))")
        }
        return FileBlobReader(fd: fd, size: Int64(info.st_size))
    }
}

public enum BlobError: Error, CustomStringConvertible {
    case badDigest(String)
    case io(String)

    public var description: String {
        switch self {
        case .badDigest(let digest): "'\(digest)' is not a SHA-256 digest"
        case .io(let message): message
        }
    }
}

extension BlobError {
    /// A failed write of an upload: 503 "disk is full" when that is the cause.
    static func writeFailed(errno code: Int32) -> any Error {
        DiskFull.error(errno: code, otherwise: BlobError.io("cannot store an upload: \(String(cString: strerror(code)))"))
    }
}
