import Crypto
import CyberdeskAPI
import FoundationEssentials

/// Encrypts sensitive values at rest with AES-256-GCM. The key lives in a file of its own
/// (mode 0600), never in the database, so a copy of the database alone reveals nothing.
/// Each sealed value is bound to its alias and owner as additional authenticated data, so a
/// sealed value moved to another row no longer opens.
public struct Vault: Sendable {
    /// Raw key bytes: `SymmetricKey` is not `Sendable` in swift-crypto 3, so the key is
    /// rebuilt for each operation.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(keyBytes: [UInt8]) { self.keyBytes = keyBytes }

    /// Names the key without revealing it, so replicas can check they hold the same one.
    public var keyID: String { Credentials.keyID(keyBytes) }

    /// Loads the key from `path`, creating it on first use.
    public static func loadOrCreate(keyFile path: String) throws -> Vault {
        if let bytes = try SecretFile.read(path) {
            guard bytes.count == 32 else {
                throw VaultError.badKey(
                    "\(path) must hold exactly 32 bytes (it has \(bytes.count)); restore it from backup")
            }
            return Vault(keyBytes: bytes)
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try SecretFile.write(bytes, to: path)
        return Vault(keyBytes: bytes)
    }

    func seal(_ value: JSONValue, alias: String, owner: String) throws -> [UInt8] {
        let plaintext = Array(value.compactJSON.utf8)
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array((alias + "|" + owner).utf8))
        guard let combined = box.combined else { throw VaultError.badKey("AES-GCM produced no ciphertext") }
        return Array(combined)
    }

    func open(_ sealed: [UInt8], alias: String, owner: String) throws -> JSONValue {
        let box = try AES.GCM.SealedBox(combined: sealed)
        let plaintext = try AES.GCM.open(box, using: key, authenticating: Array((alias + "|" + owner).utf8))
        return try APIJSON.decoder().decode(JSONValue.self, from: Data(plaintext))
    }

    /// Seals every leaf of `values` as its own secret (`db.password` for nested objects)
    /// and returns the secrets plus the alias map shown to API callers, shaped like the input.
    func sealAll(
        _ values: JSONObject, organizationID: String, ownerKind: VaultSecret.OwnerKind, ownerID: String, now: Date
    ) throws -> (secrets: [VaultSecret], aliases: JSONObject) {
        var secrets: [VaultSecret] = []
        func walk(_ object: JSONObject, prefix: String) throws -> JSONObject {
            var aliases: JSONObject = [:]
            for (name, value) in object {
                let path = prefix.isEmpty ? name : prefix + "." + name
                if case .object(let nested) = value, !nested.isEmpty {
                    aliases[name] = .object(try walk(nested, prefix: path))
                    continue
                }
                let alias = "vault:" + UUID().uuidString.lowercased()
                let owner = ownerKind.rawValue + "/" + ownerID
                secrets.append(
                    VaultSecret(
                        id: alias, organizationID: organizationID, ownerKind: ownerKind, ownerID: ownerID, name: path,
                        sealed: try seal(value, alias: alias, owner: owner), createdAt: now))
                aliases[name] = .string(alias)
            }
            return aliases
        }
        let aliases = try walk(values, prefix: "")
        return (secrets, aliases)
    }

    /// The plain value of a stored secret.
    func reveal(_ secret: VaultSecret) throws -> JSONValue {
        try open(secret.sealed, alias: secret.id, owner: secret.ownerKind.rawValue + "/" + secret.ownerID)
    }
}

public enum VaultError: Error, CustomStringConvertible {
    case badKey(String)

    public var description: String {
        switch self {
        case .badKey(let message): message
        }
    }
}
