import Foundation
import Testing

@testable import Agent

@Suite("SHA-256 of file inputs")
struct SHA256Tests {
    @Test(
        "FIPS 180-4 test vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ])
    func vectors(_ input: String, _ expected: String) {
        #expect(SHA256Hasher.hexDigest(Array(input.utf8)) == expected)
    }

    @Test("a million 'a's, fed in uneven pieces")
    func millionAs() {
        var hasher = SHA256Hasher()
        let bytes = [UInt8](repeating: 0x61, count: 1_000_000)
        var offset = 0
        var piece = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            hasher.update(Array(bytes[offset..<end]))
            offset = end
            piece = piece * 3 % 1000 + 1
        }
        #expect(
            SHA256Hasher.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256Hasher.hexDigest(bytes) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("agrees with sha256sum on every length around the block and padding boundaries")
    func agreesWithSha256sum() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var generator = SystemRandomNumberGenerator()
        let lengths = Array(0...140) + [255, 256, 257, 1000, 4095, 4096, 65_537]
        var expected: [String: String] = [:]
        for length in lengths {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let path = directory.appendingPathComponent("f\(length)").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            expected[path] = SHA256Hasher.hexDigest(bytes)
        }
        let result = try await runProcess("sha256sum", expected.keys.sorted())
        #expect(result.status == 0, "\(result.stderr)")
        let lines = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == lengths.count)
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            let path = String(parts[1].drop(while: { $0 == " " || $0 == "*" }))
            #expect(expected[path] == String(parts[0]), "length \(path.split(separator: "f").last ?? "")")
        }
    }
}
