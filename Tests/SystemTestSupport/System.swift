import AsyncHTTPClient
import ControlPlane
import CyberdeskAPI
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import TestSupport
import Testing

/// The whole system for one test: a private Xvfb, the control plane on an ephemeral port
/// (in process, with short protocol clocks), and the real `cyberdesk-agent` binary joined to
/// it and running as a daemon with its own HOME.
public final class System: Sendable {
    public let xvfb: XvfbServer
    /// The URL of this system's server (where the agent joins).
    public var url: String { server.url }
    public let adminKey: String
    public let dataDir: String
    public let serverLog: LogCollector
    /// The control plane, in this process.
    public let server: InProcessServer
    /// The machine: the agent's HOME, state dir and process.
    public let machine: AgentProcess
    /// Where API calls go: this system's server, or another replica on the same database.
    public let apiURL: Mutex<String>
    let moreSecrets = Mutex<[String]>([])
    public var store: any Store { server.store }
    public var timing: ControlPlane.AgentTiming { InProcessServer.timing }
    /// Every answer the test received from the server (API calls and signed links), with its
    /// headers, for the secret scan that ends every test (`expectNoSecret`).
    public let answers = AnswerRecorder()
    /// The public API as the SDK speaks it, with the admin key.
    public var api: APIClient { APIClient(url: apiURL.withLock { $0 }, key: adminKey, recorder: answers) }

    /// The sensitive input value tests give runs. After every test, `with` scans everything
    /// the system wrote or answered for it.
    public static let secret = "s3cr3t-Ω-\(UInt32.random(in: 100_000...999_999))"

    /// Starts the system, runs `body`, and shuts everything down whatever happens.
    /// After `body`, and after the agent and server stopped (so their logs are complete), the
    /// secret scan runs over the whole system.
    public static func with(
        width: Int = 1280, height: Int = 800, database: String? = nil, fallbackInterval: Duration = .seconds(1),
        _ body: (System) async throws -> Void
    ) async throws {
        let system = try await start(
            width: width, height: height, database: database, fallbackInterval: fallbackInterval)
        do {
            try await body(system)
        } catch {
            await system.shutdown()
            throw error
        }
        await system.shutdown()
        system.expectNoSecret(secret)
        for other in system.moreSecrets.withLock({ $0 }) { system.expectNoSecret(other) }
    }

    /// Also scanned for after the test, like ``secret`` (a model's API key, say).
    public func scanAfterwards(for secret: String) { moreSecrets.withLock { $0.append(secret) } }

    public static func start(
        width: Int = 1280, height: Int = 800, database: String? = nil, fallbackInterval: Duration = .seconds(1)
    ) async throws -> System {
        let xvfb = try XvfbServer(width: width, height: height)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyberdesk-e2e-\(UUID().uuidString)")
            .path
        let dataDir = root + "/server"
        let machine = try AgentProcess(root: root, display: xvfb.display)
        let lines = LogCollector()
        let server = try await InProcessServer.start(
            dataDir: dataDir, database: database, logger: lines.logger(label: "server"),
            fallbackInterval: fallbackInterval)
        guard let key = server.adminKey else {
            await server.stop()
            throw TestFailure("no admin key")
        }
        return System(
            xvfb: xvfb, adminKey: key, dataDir: dataDir, machine: machine, serverLog: lines, server: server)
    }

    init(
        xvfb: XvfbServer, adminKey: String, dataDir: String, machine: AgentProcess, serverLog: LogCollector,
        server: InProcessServer
    ) {
        self.xvfb = xvfb
        self.adminKey = adminKey
        self.dataDir = dataDir
        self.machine = machine
        self.serverLog = serverLog
        self.server = server
        apiURL = Mutex(server.url)
    }

    public var display: String { xvfb.display }

    public var home: String { machine.home }
    public var stateDir: String { machine.stateDir }
    public var agentEnvironment: [String: String] { machine.environment }

    /// `cyberdesk-agent join` with the admin key in a file, as a user would; `server` is the
    /// URL the agent keeps for the server (a proxy in front of it, say), by default the server.
    public func join(pools: [String] = [], server: String? = nil) async throws -> String {
        try await machine.join(server: server ?? url, apiKey: adminKey, pools: pools)
    }

    /// Starts `cyberdesk-agent run` and waits until its machine is connected.
    public func startAgent(machineID: String) async throws {
        try machine.start()
        let connected = await eventually(timeout: .seconds(20)) {
            let machine = try? await self.get("/v1/machines/\(machineID)")
            return machine?["status"]?.stringValue == "connected"
        }
        guard connected else { throw TestFailure("the agent did not connect:\n\(machine.currentLog)") }
    }

    /// The current agent process's log.
    public var agentLog: String { machine.currentLog }

    /// Waits for the agent to exit on its own (a poll on the machine's deleted credential
    /// does that at once; the poll wait bounds it).
    public func waitAgent() async -> Int32? { await machine.wait() }

    /// `kill -9` of the agent: no chance to release keys or report its run.
    public func killAgent() { machine.signal(SIGKILL) }

    /// SIGTERM to the agent; its exit status.
    public func stopAgent() async -> Int32? { await machine.stop() }

    public func shutdown() async {
        await machine.kill()
        await server.stop()
    }

    // MARK: HTTP, as the SDK speaks it

    public func request(
        _ method: HTTPMethod, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = []
    ) async throws -> (status: Int, body: [UInt8], contentType: String?) {
        try await api.request(method, path, json: json, headers: headers)
    }

    public func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, expect: Int) async throws
        -> JSONObject
    {
        try await api.call(method, path, json: json, expect: expect)
    }

    public func get(_ path: String) async throws -> JSONObject { try await api.get(path) }

    /// A signed link (an absolute URL), without the API key; the answer is scanned too.
    public func fetch(_ url: String) async throws -> (status: Int, body: [UInt8], contentType: String?) {
        try await api.fetch(url)
    }

    public func reachedStep(_ index: Int, of runID: String) async -> Bool {
        await api.reachedStep(index, of: runID)
    }

    public func workflow(_ prompt: String, steps: [JSONValue]) async throws -> String {
        try await api.workflow(prompt, steps: steps)
    }

    public func waitForRun(_ runID: String, timeout: Duration = .seconds(60)) async throws -> JSONObject {
        try await api.waitForRun(runID, timeout: timeout, context: { self.agentLog })
    }
}

// MARK: The secret scan

extension System {
    /// The secret is nowhere the system wrote or answered: not in the server's data dir
    /// (database, WAL, blobs, keys), its log, the agent's state dir, home (transfers,
    /// exports) and log, or any answer the test received — as text, JSON-escaped, base64 (at
    /// every alignment, standard and URL alphabets) or percent-encoded.
    public func expectNoSecret(_ secret: String) {
        let forms = SecretForms(secret)
        // The scan can fail: it finds each form inside a larger encoded document.
        let sample = Array(Data(("x" + secret + "y").utf8).base64EncodedString().utf8)
        #expect(forms.found(in: sample) != nil, "the scan must find the secret in base64 at any offset")

        var haystacks: [(String, [UInt8])] = [
            ("server log", Array(serverLog.all.joined(separator: "\n").utf8)),
            ("agent log", Array(agentLog.utf8)),
        ]
        haystacks += answers.all.map { ("answer to \($0.label)", $0.bytes) }
        for root in [dataDir, stateDir, home] {
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
            for file in files {
                if let data = FileManager.default.contents(atPath: root + "/" + file) {
                    haystacks.append((root + "/" + file, Array(data)))
                }
            }
        }
        for (name, bytes) in haystacks {
            if let form = forms.found(in: bytes) {
                Issue.record("the secret leaked into \(name) (\(form))")
            }
        }
    }
}

/// The encodings a secret could be written in by mistake.
public struct SecretForms {
    let forms: [(name: String, bytes: [UInt8])]

    public init(_ secret: String) {
        var forms: [(String, String)] = [("plain text", secret)]
        for format in ["\\u%04x", "\\u%04X"] {
            var escaped = ""
            for scalar in secret.unicodeScalars {
                escaped += scalar.isASCII ? String(scalar) : String(format: format, scalar.value)
            }
            forms.append(("JSON-escaped", escaped))
        }
        for allowed in [CharacterSet.alphanumerics, .urlQueryAllowed, .urlPathAllowed] {
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: allowed) {
                forms.append(("percent-encoded", encoded))
            }
        }
        // Base64 of the secret after 0, 1 or 2 other bytes: the characters that depend only
        // on the secret's bytes.
        let bytes = Array(secret.utf8)
        for offset in 0..<3 {
            let encoded = Array(Data(Array(repeating: 0, count: offset) + bytes).base64EncodedString())
            let first = (offset + 2) / 3 * 4
            let last = (offset + bytes.count) / 3 * 4
            guard last - first >= 8 else { continue }
            let core = String(encoded[first..<last])
            forms.append(("base64", core))
            forms.append(
                ("base64url", core.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")))
        }
        self.forms = forms.map { ($0.0, Array($0.1.utf8)) }
    }

    /// The name of the first form found in `haystack`.
    public func found(in haystack: [UInt8]) -> String? {
        let data = Data(haystack)
        return forms.first { data.range(of: Data($0.bytes)) != nil }?.name
    }
}
