import FoundationEssentials

/// Where attachment bytes live, addressed by their SHA-256, so the same file given to a
/// thousand runs is stored once.
public protocol BlobStore: Sendable {
    /// Stores `bytes` and returns their SHA-256 in lowercase hex.
    func put(_ bytes: [UInt8]) async throws -> String
    func get(_ sha256: String) async throws -> [UInt8]?
    func delete(_ sha256: String) async throws
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
        guard sha256.count == 64, sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw BlobError.badDigest(sha256)
        }
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

    public func get(_ sha256: String) async throws -> [UInt8]? {
        try SecretFile.read(try path(sha256))
    }

    public func delete(_ sha256: String) async throws {
        SecretFile.remove(try path(sha256))
    }
}

public enum BlobError: Error, CustomStringConvertible {
    case badDigest(String)

    public var description: String {
        switch self {
        case .badDigest(let digest): "'\(digest)' is not a SHA-256 digest"
        }
    }
}
