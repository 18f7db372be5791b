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
    public var store: any Store { server.store }
    public var timing: ControlPlane.AgentTiming { InProcessServer.timing }
    /// The public API as the SDK speaks it, with the admin key.
    public var api: APIClient { APIClient(url: apiURL.withLock { $0 }, key: adminKey) }

    /// Starts the system, runs `body`, and shuts everything down whatever happens.
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
    }

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
