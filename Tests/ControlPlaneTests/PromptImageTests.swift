import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

@testable import ControlPlane

/// A 1×1 PNG.
let tinyPNG = [UInt8](
    Data(
        base64Encoded:
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )!)

/// A multipart body as httpx builds it for `files=`.
func multipart(
    _ content: [UInt8], filename: String = "chart.png", name: String = "file", boundary: String = "b0undary-7f3a"
) -> (body: [UInt8], contentType: String) {
    var body = Array("--\(boundary)\r\n".utf8)
    body += Array("Content-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\n".utf8)
    body += Array("Content-Type: image/png\r\n\r\n".utf8)
    body += content
    body += Array("\r\n--\(boundary)--\r\n".utf8)
    return (body, "multipart/form-data; boundary=\(boundary)")
}

@Suite("Prompt images")
struct PromptImageTests {
    func upload(
        _ server: TestServer, _ content: [UInt8], filename: String = "chart.png", as credential: Credential = .admin
    )
        async throws -> HTTPResult
    {
        let form = multipart(content, filename: filename)
        return try await server.request(
            .post, "/v1/workflows/prompt-image", as: credential, bytes: form.body,
            headers: ["Content-Type": form.contentType])
    }

    func localPath(_ url: String, _ server: TestServer) -> String {
        String(url.dropFirst("http://127.0.0.1:\(server.port)".count))
    }

    @Test("upload, list, fetch by signed link without a key until it expires, delete")
    func lifecycle() async throws {
        try await TestServer.with { server in
            let response = try await upload(server, tinyPNG)
            #expect(response.status == 201, "\(response)")
            let image = try #require(try response.json().objectValue)
            let reference = try #require(image["supabase_url"]?.stringValue)
            let organizationID = try #require(
                try await server.store.read { try await $0.apiKeys() }.first?.organizationID)
            #expect(reference.hasPrefix("supabase://workflow-prompt-images/\(organizationID)/prompt-assets/"))
            #expect(reference.hasSuffix(".png"))
            #expect(image["content_type"] == "image/png")
            #expect(image["filename"] == "chart.png")
            #expect(image["size_bytes"] == .int(Int64(tinyPNG.count)))

            let link = try #require(image["signed_url"]?.stringValue)
            let fetched = try await server.request(.get, localPath(link, server), as: .none)
            #expect(fetched.status == 200, "\(fetched)")
            #expect(fetched.body == tinyPNG)
            #expect(fetched.header("Content-Type") == "image/png")
            var tampered = localPath(link, server)
            // The signature's last character, changed (it was "A" once in 64 runs, and the old
            // check looked at the character before it).
            let last = tampered.removeLast()
            tampered.append(last == "A" ? "B" : "A")
            #expect(try await server.request(.get, tampered, as: .none).status == 403)

            let listed = try await server.get("/v1/workflows/prompt-images").json().arrayValue ?? []
            #expect(listed.count == 1)
            let path = try #require(listed.first?.objectValue?["path"]?.stringValue)
            #expect(reference == "supabase://workflow-prompt-images/" + path)

            let loaded = try await server.app.promptImages.promptImage(
                reference: reference, organizationID: organizationID)
            #expect(loaded?.bytes == tinyPNG)
            #expect(loaded?.mediaType == "image/png")

            let short = try await server.get("/v1/workflows/prompt-image/signed-url?path=\(path)&expires_in=10")
            #expect(short.status == 200, "\(short)")
            #expect(try short.json().objectValue?["expires_in"] == 10)
            let shortLink = localPath(try #require(try short.json().objectValue?["signed_url"]?.stringValue), server)
            #expect(try await server.request(.get, shortLink, as: .none).status == 200)
            server.clock.advance(by: 11)
            #expect(try await server.request(.get, shortLink, as: .none).status == 403, "expired after 10 s")
            #expect(try await server.request(.get, localPath(link, server), as: .none).status == 200, "1 h default")

            let other = Credential.key(try await server.key(organization: "other").key)
            #expect(try await server.get("/v1/workflows/prompt-image/signed-url?path=\(path)", as: other).status == 404)
            #expect(
                try await server.request(.delete, "/v1/workflows/prompt-image?path=\(path)", as: other).status == 404)
            #expect(try await server.get("/v1/workflows/prompt-images", as: other).json().arrayValue == [])

            #expect(try await server.request(.delete, "/v1/workflows/prompt-image?path=\(path)").status == 204)
            #expect(try await server.get("/v1/workflows/prompt-images").json().arrayValue == [])
            #expect(try await server.request(.get, localPath(link, server), as: .none).status == 404)
            let blobs = FileManager.default.enumerator(atPath: server.dataDirectory.blobsPath)?.allObjects ?? []
            #expect(
                blobs.compactMap { $0 as? String }.filter { URL(fileURLWithPath: $0).lastPathComponent.count == 64 }
                    .isEmpty, "the blob is gone: \(blobs)")
        }
    }

    @Test("only PNG, JPEG, GIF and WebP by content; at most 10 MiB")
    func refused() async throws {
        try await TestServer.with { server in
            let text = try await upload(server, Array("<svg onload=alert(1)>".utf8), filename: "x.png")
            #expect(text.status == 400, "\(text)")
            #expect(text.detail?.contains("PNG, JPEG, GIF or WebP") == true)
            let large = try await upload(server, tinyPNG + [UInt8](repeating: 0, count: 10 << 20))
            #expect(large.status == 413, "\(large)")
            let jpeg = try await upload(server, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], filename: "a.jpg")
            #expect(try jpeg.json().objectValue?["content_type"] == "image/jpeg")
            let webp = try await upload(server, Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8), filename: "../../x")
            #expect(webp.status == 201, "\(webp)")
            #expect(try webp.json().objectValue?["filename"] == "x", "path components are dropped")
            let json = try await server.post("/v1/workflows/prompt-image", ["file": "x"])
            #expect(json.status == 422, "\(json)")
            let noFile = multipart(tinyPNG, name: "image")
            let wrongName = try await server.request(
                .post, "/v1/workflows/prompt-image", bytes: noFile.body, headers: ["Content-Type": noFile.contentType])
            #expect(wrongName.status == 422)
            #expect(
                try wrongName.json().objectValue?["detail"]?.arrayValue?.first?.objectValue?["loc"] == ["body", "file"])
        }
    }

    @Test("prompts may refer only to the organization's own images")
    func references() async throws {
        try await TestServer.with { server in
            let mine = try #require(try await upload(server, tinyPNG).json().objectValue?["supabase_url"]?.stringValue)
            let other = Credential.key(try await server.key(organization: "other").key)
            let theirs = try #require(
                try await upload(server, tinyPNG, as: other).json().objectValue?["supabase_url"]?.stringValue)

            let ok = try await server.post(
                "/v1/workflows", ["main_prompt": .string("Compare with <img src=\"\(mine)\" alt=\"chart\"> then save")])
            #expect(ok.status == 201, "\(ok)")
            let workflowID = try #require(try ok.json().objectValue?["id"]?.stringValue)

            let stolen = try await server.post("/v1/workflows", ["main_prompt": .string("<img src='\(theirs)'>")])
            #expect(stolen.status == 400, "\(stolen)")
            #expect(stolen.detail?.contains(theirs) == true)
            let unknown = "supabase://workflow-prompt-images/nope/prompt-assets/x.png"
            let patch = try await server.request(
                .patch, "/v1/workflows/\(workflowID)", json: ["main_prompt": .string("<IMG SRC=\"\(unknown)\"/>")])
            #expect(patch.status == 400, "\(patch)")
            #expect(patch.detail?.contains(unknown) == true)
            let run = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "main_prompt": .string("<img src=\"\(theirs)\">")])
            #expect(run.status == 400, "\(run)")
        }
    }

    @Test("a prompt splits into text and images in place")
    func pieces() {
        let reference = "supabase://workflow-prompt-images/org/prompt-assets/a.png"
        let prompt =
            "Open <b>it</b>, compare <img alt=\"the chart\" src=\"\(reference)\"> and <img src=\"https://x/y.png\"> done"
        #expect(
            PromptImages.pieces(of: prompt) == [
                .text("Open <b>it</b>, compare "), .image(reference: reference, alt: "the chart"),
                .text(" and <img src=\"https://x/y.png\"> done"),
            ])
        #expect(PromptImages.references(in: prompt) == [reference])
        #expect(PromptImages.references(in: "<img src=\"\(reference)") == [], "an unclosed tag is text")
        #expect(PromptImages.references(in: "<imgsrc=\"\(reference)\">") == [])
        #expect(PromptImages.references(in: "<<<img src=\(reference)>") == [reference])
    }
}

@Suite("Multipart form data")
struct MultipartTests {
    @Test("a part's bytes are kept exactly, CRLFs and boundary-like text included")
    func exactBytes() throws {
        // The boundary without its CRLF, or one character short, is content (RFC 2046).
        let content = Array("line\r\n--b0undary-7f3 almost\rx--b0undary-7f3a not quite\r\n".utf8) + [0, 255, 13, 10]
        let form = multipart(content)
        let parsed = try MultipartFormData(
            body: Array("preamble\r\n".utf8) + form.body + Array("epilogue".utf8), contentType: form.contentType)
        #expect(parsed.parts.count == 1)
        #expect(parsed.part(named: "file")?.body == content)
        #expect(parsed.part(named: "file")?.filename == "chart.png")
        #expect(parsed.part(named: "file")?.contentType == "image/png")
    }

    @Test("quoted boundaries and parameters, RFC 5987 filenames")
    func parameters() throws {
        let body = Array(
            "--a b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\\\"y;z.png\"\r\n\r\nA\r\n--a b\r\nContent-Disposition: form-data; name=other; filename*=UTF-8''%C3%A9t%C3%A9.png\r\n\r\nB\r\n--a b--"
                .utf8)
        let parsed = try MultipartFormData(
            body: body, contentType: "multipart/form-data; charset=utf-8; boundary=\"a b\"")
        #expect(parsed.part(named: "file")?.filename == "x\"y;z.png")
        #expect(parsed.part(named: "other")?.filename == "été.png")
        #expect(parsed.part(named: "other")?.body == Array("B".utf8))
    }

    struct Hostile: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String
        var body: String
        var error: MultipartError
        var testDescription: String { name }
    }

    static let hostile: [Hostile] = [
        Hostile(name: "not multipart", contentType: "application/json", body: "{}", error: .notMultipart),
        Hostile(name: "no boundary", contentType: "multipart/form-data", body: "", error: .badBoundary),
        Hostile(
            name: "boundary too long",
            contentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 71),
            body: "", error: .badBoundary),
        Hostile(
            name: "CR in boundary", contentType: "multipart/form-data; boundary=\"a\rb\"", body: "", error: .badBoundary
        ),
        Hostile(name: "empty body", contentType: "multipart/form-data; boundary=b", body: "", error: .missingDelimiter),
        Hostile(
            name: "no closing delimiter", contentType: "multipart/form-data; boundary=b",
            body: "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc", error: .missingDelimiter),
        Hostile(
            name: "headers never end", contentType: "multipart/form-data; boundary=b",
            body: "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n", error: .missingDelimiter),
        Hostile(
            name: "garbage after boundary", contentType: "multipart/form-data; boundary=b", body: "--bXYZ\r\n",
            error: .malformedDelimiter),
        Hostile(
            name: "no disposition", contentType: "multipart/form-data; boundary=b",
            body: "--b\r\nContent-Type: image/png\r\n\r\nx\r\n--b--", error: .missingDisposition),
        Hostile(
            name: "folded header", contentType: "multipart/form-data; boundary=b",
            body: "--b\r\nContent-Disposition: form-data;\r\n name=\"file\"\r\n\r\nx\r\n--b--", error: .badHeader),
        Hostile(
            name: "headers too large", contentType: "multipart/form-data; boundary=b",
            body: "--b\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\nx\r\n--b--", error: .headersTooLarge),
        Hostile(
            name: "too many parts", contentType: "multipart/form-data; boundary=b",
            body: String(repeating: "--b\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx\r\n", count: 17)
                + "--b--",
            error: .tooManyParts),
    ]

    @Test("hostile bodies are refused with a reason", arguments: hostile)
    func refused(_ hostile: Hostile) {
        #expect(throws: hostile.error) {
            try MultipartFormData(body: Array(hostile.body.utf8), contentType: hostile.contentType)
        }
    }

    @Test("near-miss boundaries over 4 MiB are scanned in linear time")
    func linear() {
        let boundary = String(repeating: "q", count: 70)
        let nearMiss = Array("\r\n--\(String(repeating: "q", count: 69))".utf8)
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n".utf8)
        while body.count < 4 << 20 { body += nearMiss }
        let started = ContinuousClock.now
        #expect(throws: MultipartError.missingDelimiter) {
            try MultipartFormData(body: body, contentType: "multipart/form-data; boundary=\(boundary)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("random bytes never crash the parser")
    func random() {
        var generator = SeededGenerator(seed: 7)
        let alphabet = Array("-\r\nb=;\"x:".utf8)
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<count).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? MultipartFormData(body: Array("--b".utf8) + bytes, contentType: "multipart/form-data; boundary=b")
        }
    }
}

/// SplitMix64, so a failing input can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
