import Testing

@testable import Agent

@Suite("Secret buffer pieces")
struct SecretBufferTests {
    @Test(
        "pieces are small strings that join to the value, split between scalars and never inside CRLF",
        arguments: [
            "", "short", "exactly15bytes!", "sixteen bytes!!!", "Pässwörd-✓-東京-🙂-long enough to need pieces",
            "aaaaaaaaaaaaaa\r\nbbbb", "🙂🙂🙂🙂🙂", String(repeating: "é", count: 40),
        ])
    func pieces(_ value: String) async throws {
        let buffer = SecretBuffer(copying: value)
        var pieces: [String] = []
        try await buffer.forEachPiece { pieces.append($0) }
        #expect(pieces.joined() == value)
        #expect(pieces.allSatisfy { $0.utf8.count <= SecretBuffer.inlineLimit && !$0.isEmpty })
        #expect(!pieces.contains { $0.hasSuffix("\r") }, "a CRLF must not be split")
        #expect(buffer.count == value.utf8.count)
    }
}
