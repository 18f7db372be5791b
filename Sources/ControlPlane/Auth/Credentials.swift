import Crypto
import FoundationEssentials

/// API keys, machine registration tokens and machine credentials: random secrets shown once
/// and stored only as SHA-256 digests. A digest is enough for lookup because the secrets
/// carry 256 bits of randomness (no salt or slow hash needed, unlike passwords).
public enum Credentials {
    /// A new secret: the kind prefix (`cdk_` API key, `cdt_` registration token, `cdm_`
    /// machine credential) and 43 characters of base64url.
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + base64URL(bytes)
    }

    public static func hash(_ secret: String) -> String { sha256(Array(secret.utf8)) }

    /// SHA-256 in lowercase hex.
    /// A short, one-way name for a key: an HMAC of a fixed label under it.
    static func keyID(_ keyBytes: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("cyberdesk key id".utf8), using: SymmetricKey(data: keyBytes))
        return Array(mac).prefix(8).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The first characters of a key, safe to show in listings and logs.
    public static func displayPrefix(_ secret: String) -> String { String(secret.prefix(10)) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_")
            .replacing("=", with: "")
    }
}

/// HMAC-signed, expiring URLs for attachment downloads: anyone holding the URL may fetch
/// the file until it expires, without an API key.
public struct URLSigner: Sendable {
    /// Raw key bytes: `SymmetricKey` is not `Sendable` in swift-crypto 3, so the key is
    /// rebuilt for each operation.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(keyBytes: [UInt8]) { self.keyBytes = keyBytes }

    /// Names the key without revealing it, so replicas can check they hold the same one.
    public var keyID: String { Credentials.keyID(keyBytes) }

    public static func loadOrCreate(keyFile path: String) throws -> URLSigner {
        if let bytes = try SecretFile.read(path), bytes.count == 32 {
            return URLSigner(keyBytes: bytes)
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try SecretFile.write(bytes, to: path)
        return URLSigner(keyBytes: bytes)
    }

    public func signature(path: String, expires: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(path)|\(expires)".utf8), using: key)
        return Credentials.base64URL(Array(mac))
    }

    /// Constant-time check of a signature, and of its expiry against `now`.
    public func verify(path: String, expires: Int64, signature: String, now: Date) -> Bool {
        guard Double(expires) >= now.timeIntervalSince1970 else { return false }
        let expected = Array(self.signature(path: path, expires: expires).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ given[index] }
        return difference == 0
    }
}
