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

/// The whole system for one test: a private Xvfb, the control plane on an ephemeral port
/// (in process, with short protocol clocks), and the real `cyberdesk-agent` binary joined to
/// it and running as a daemon with its own HOME.
public final class System: Sendable {
    public let xvfb: XvfbServer
    public let url: String
    public let adminKey: String
    public let dataDir: String
    public let serverLog: LogCollector
    let serverTask: Task<Void, any Error>
    /// The machine: the agent's HOME, state dir and process.
    public let machine: AgentProcess
    public let store: any Store
    public let timing: ControlPlane.AgentTiming
    /// The public API as the SDK speaks it, with the admin key.
    public var api: APIClient { APIClient(url: url, key: adminKey) }

    /// Starts the system, runs `body`, and shuts everything down whatever happens.
    public static func with(width: Int = 1280, height: Int = 800, _ body: (System) async throws -> Void) async throws {
        let system = try await start(width: width, height: height)
        do {
            try await body(system)
        } catch {
            await system.shutdown()
            throw error
        }
        await system.shutdown()
    }

    public static func start(width: Int = 1280, height: Int = 800) async throws -> System {
        let xvfb = try XvfbServer(width: width, height: height)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyberdesk-e2e-\(UUID().uuidString)")
            .path
        let dataDir = root + "/server"
        let machine = try AgentProcess(root: root, display: xvfb.display)
        let lines = LogCollector()
        let logger = lines.logger(label: "server")
        let directory = DataDirectory(path: dataDir)
        let store = try await directory.openStore(database: nil, logger: logger)
        guard let key = try await directory.bootstrap(store: store) else { throw TestFailure("no admin key") }
        let timing = ControlPlane.AgentTiming(
            pollWait: 5, lease: 4, heartbeat: 1, offerTimeout: 10, lostGrace: 3, commandTimeout: 20)
        let app = try directory.controlPlane(store: store, publicURL: nil, agentTiming: timing, logger: logger)
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
            xvfb: xvfb, url: "http://127.0.0.1:\(bound)", adminKey: key, dataDir: dataDir, machine: machine,
            serverLog: lines, serverTask: task, store: store, timing: timing)
    }

    init(
        xvfb: XvfbServer, url: String, adminKey: String, dataDir: String, machine: AgentProcess,
        serverLog: LogCollector, serverTask: Task<Void, any Error>, store: any Store, timing: ControlPlane.AgentTiming
    ) {
        self.timing = timing
        self.store = store
        self.xvfb = xvfb
        self.url = url
        self.adminKey = adminKey
        self.dataDir = dataDir
        self.machine = machine
        self.serverLog = serverLog
        self.serverTask = serverTask
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
        serverTask.cancel()
        _ = try? await serverTask.value
        try? await store.close()
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
