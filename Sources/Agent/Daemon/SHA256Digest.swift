import Crypto

/// SHA-256 in lowercase hex: how the protocol names file contents.
public enum SHA256Digest {
    public static func hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    public static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
