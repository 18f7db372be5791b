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
final class System: Sendable {
    let xvfb: XvfbServer
    let url: String
    let adminKey: String
    let dataDir: String
    let home: String
    let stateDir: String
    let serverLog: LogCollector
    let serverTask: Task<Void, any Error>
    let agent: Mutex<ChildProcess?>
    let store: any Store
    /// Every answer the test received from the server (API calls and signed links), with its
    /// headers, for the secret scan that ends every test (`expectNoSecret`).
    let answers = Mutex<[(label: String, bytes: [UInt8])]>([])

    /// The sensitive input value tests give runs. After every test, `with` scans everything
    /// the system wrote or answered for it.
    static let secret = "s3cr3t-Ω-\(UInt32.random(in: 100_000...999_999))"

    /// Starts the system, runs `body`, and shuts everything down whatever happens.
    /// After `body`, and after the agent and server stopped (so their logs are complete), the
    /// secret scan runs over the whole system.
    static func with(width: Int = 1280, height: Int = 800, _ body: (System) async throws -> Void) async throws {
        let system = try await start(width: width, height: height)
        do {
            try await body(system)
        } catch {
            await system.shutdown()
            throw error
        }
        await system.shutdown()
        system.expectNoSecret(secret)
    }

    static func start(width: Int = 1280, height: Int = 800) async throws -> System {
        let xvfb = try XvfbServer(width: width, height: height)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyberdesk-e2e-\(UUID().uuidString)")
            .path
        let dataDir = root + "/server"
        let home = root + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let lines = LogCollector()
        let logger = lines.logger(label: "server")
        let directory = DataDirectory(path: dataDir)
        let store = try await directory.openStore(database: nil, logger: logger)
        guard let key = try await directory.bootstrap(store: store) else { throw TestFailure("no admin key") }
        let app = try directory.controlPlane(
            store: store, publicURL: nil,
            agentTiming: .init(pollWait: 5, lease: 4, heartbeat: 1, offerTimeout: 10, lostGrace: 3, commandTimeout: 20),
            logger: logger)
        let port = Mutex<Int?>(nil)
        let application = buildApplication(app, host: "127.0.0.1", port: 0) { bound in port.withLock { $0 = bound } }
        let sweeper = LeaseSweeper(app: app, interval: .milliseconds(200))
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await application.runService() }
                group.addTask {
                    while !Task.isCancelled {
                        _ = try? await sweeper.sweep()
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        guard await eventually(timeout: .seconds(20), { port.withLock { $0 } != nil }),
            let bound = port.withLock({ $0 })
        else { throw TestFailure("the server did not start") }
        return System(
            xvfb: xvfb, url: "http://127.0.0.1:\(bound)", adminKey: key, dataDir: dataDir, home: home,
            stateDir: root + "/agent-state", serverLog: lines, serverTask: task, store: store)
    }

    init(
        xvfb: XvfbServer, url: String, adminKey: String, dataDir: String, home: String, stateDir: String,
        serverLog: LogCollector, serverTask: Task<Void, any Error>, store: any Store
    ) {
        self.store = store
        self.xvfb = xvfb
        self.url = url
        self.adminKey = adminKey
        self.dataDir = dataDir
        self.home = home
        self.stateDir = stateDir
        self.serverLog = serverLog
        self.serverTask = serverTask
        agent = Mutex(nil)
    }

    var display: String { xvfb.display }

    var agentEnvironment: [String: String] {
        ["HOME": home, "DISPLAY": display, "XDG_STATE_HOME": home + "/.state", "LC_ALL": "C.UTF-8"]
    }

    /// `cyberdesk-agent join` with the admin key in a file, as a user would.
    func join(pools: [String] = []) async throws -> String {
        let keyFile = home + "/.api-key"
        try Data((adminKey + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        let result = try await runProcess(
            agentExecutable,
            ["join", "--server", url, "--api-key-file", keyFile, "--state-dir", stateDir, "--name", "e2e-desktop"]
                + pools.flatMap { ["--pool", $0] },
            environment: agentEnvironment)
        guard result.status == 0 else { throw TestFailure("join failed: \(result.stderr)") }
        let answer = try JSONDecoder().decode([String: String].self, from: result.stdout)
        guard let machineID = answer["machine_id"] else { throw TestFailure("join printed no machine_id") }
        return machineID
    }

    /// Starts `cyberdesk-agent run` and waits until its machine is connected.
    func startAgent(machineID: String) async throws {
        let child = try ChildProcess(
            agentExecutable, ["run", "--state-dir", stateDir, "--log-level", "debug"], environment: agentEnvironment)
        agent.withLock { $0 = child }
        let connected = await eventually(timeout: .seconds(20)) {
            let machine = try? await self.get("/v1/machines/\(machineID)")
            return machine?["status"]?.stringValue == "connected"
        }
        guard connected else { throw TestFailure("the agent did not connect:\n\(child.log)") }
    }

    var agentLog: String { agent.withLock { $0?.log } ?? "" }

    /// Waits for the agent to exit on its own (a poll on the machine's deleted credential
    /// does that at once; the poll wait bounds it).
    func waitAgent() async -> Int32? {
        guard let child = agent.withLock({ $0 }) else { return nil }
        return await child.wait()
    }

    /// `kill -9` of the agent: no chance to release keys or report its run.
    func killAgent() {
        agent.withLock { $0?.signal(SIGKILL) }
    }

    /// SIGTERM to the agent; its exit status.
    func stopAgent() async -> Int32? {
        guard let child = agent.withLock({ $0 }) else { return nil }
        child.signal(SIGTERM)
        return await child.wait()
    }

    func shutdown() async {
        if let child = agent.withLock({ $0 }) {
            child.signal(SIGKILL)
            _ = await child.wait()
        }
        serverTask.cancel()
        _ = try? await serverTask.value
        try? await store.close()
    }

    // MARK: HTTP, as the SDK speaks it

    struct HTTPError: Error, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "HTTP \(status): \(body)" }
    }

    func request(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, headers: [(String, String)] = [])
        async throws -> (status: Int, body: [UInt8], contentType: String?)
    {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(adminKey)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.compactJSON))
        }
        return try await execute(request, label: "\(method) \(path)")
    }

    /// A signed link (an absolute URL), without the API key.
    func fetch(_ url: String) async throws -> (status: Int, body: [UInt8], contentType: String?) {
        try await execute(HTTPClientRequest(url: url), label: "GET \(url)")
    }

    private func execute(_ request: HTTPClientRequest, label: String) async throws -> (
        status: Int, body: [UInt8], contentType: String?
    ) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        var body = try await response.body.collect(upTo: 50 << 20)
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        let headers = response.headers.map { "\($0.name): \($0.value)\n" }.joined()
        answers.withLock { $0.append(("\(label) → \(response.status.code)", Array(headers.utf8) + bytes)) }
        return (Int(response.status.code), bytes, response.headers.first(name: "Content-Type"))
    }

    func call(_ method: HTTPMethod, _ path: String, json: JSONValue? = nil, expect: Int) async throws -> JSONObject {
        let answer = try await request(method, path, json: json)
        guard answer.status == expect else {
            throw HTTPError(status: answer.status, body: String(decoding: answer.body, as: UTF8.self))
        }
        if answer.body.isEmpty { return [:] }
        return try JSONDecoder().decode(JSONValue.self, from: Data(answer.body)).objectValue ?? [:]
    }

    func get(_ path: String) async throws -> JSONObject { try await call(.GET, path, expect: 200) }

    /// Waits until the run's history has an event for the step before `index` (events
    /// arrive in batches after each step, and a step's start is reported before that).
    func reachedStep(_ index: Int, of runID: String) async -> Bool {
        await eventually(timeout: .seconds(20)) {
            let run = try? await self.get("/v1/runs/\(runID)")
            let events = run?["run_message_history"]?.arrayValue ?? []
            return events.contains { $0.objectValue?["step_index"]?.intValue == Int64(index - 1) }
        }
    }

    /// A workflow with an approved trajectory recorded on a 1280x800 screen; its id.
    func workflow(_ prompt: String, steps: [JSONValue]) async throws -> String {
        let workflow = try await call(.POST, "/v1/workflows", json: ["main_prompt": .string(prompt)], expect: 201)
        guard let id = workflow["id"]?.stringValue else { throw TestFailure("the workflow has no id") }
        _ = try await call(
            .POST, "/v1/trajectories",
            json: [
                "workflow_id": .string(id), "trajectory_data": .array(steps),
                "dimensions": ["width": 1280, "height": 800], "is_approved": true,
            ], expect: 201)
        return id
    }

    /// Polls the run until it reaches a terminal status.
    func waitForRun(_ runID: String, timeout: Duration = .seconds(60)) async throws -> JSONObject {
        var run: JSONObject = [:]
        let ended = await eventually(timeout: timeout) {
            run = (try? await self.get("/v1/runs/\(runID)")) ?? run
            return ["success", "task_failed", "error", "cancelled"].contains(run["status"]?.stringValue ?? "")
        }
        guard ended else {
            throw TestFailure(
                "run \(runID) did not end: \(run["status"]?.stringValue ?? "?")\nagent log:\n\(agentLog.suffix(4000))")
        }
        return run
    }
}

// MARK: The secret scan

extension System {
    /// The secret is nowhere the system wrote or answered: not in the server's data dir
    /// (database, WAL, blobs, keys), its log, the agent's state dir, home (transfers,
    /// exports) and log, or any answer the test received — as text, JSON-escaped, base64 (at
    /// every alignment, standard and URL alphabets) or percent-encoded.
    func expectNoSecret(_ secret: String) {
        let forms = SecretForms(secret)
        // The scan can fail: it finds each form inside a larger encoded document.
        let sample = Array(Data(("x" + secret + "y").utf8).base64EncodedString().utf8)
        #expect(forms.found(in: sample) != nil, "the scan must find the secret in base64 at any offset")

        var haystacks: [(String, [UInt8])] = [
            ("server log", Array(serverLog.all.joined(separator: "\n").utf8)),
            ("agent log", Array(agentLog.utf8)),
        ]
        haystacks += answers.withLock { $0 }.map { ("answer to \($0.label)", $0.bytes) }
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
struct SecretForms {
    let forms: [(name: String, bytes: [UInt8])]

    init(_ secret: String) {
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
    func found(in haystack: [UInt8]) -> String? {
        let data = Data(haystack)
        return forms.first { data.range(of: Data($0.bytes)) != nil }?.name
    }
}
