import Foundation
import Synchronization
import TestSupport

/// The real `cyberdesk-server serve` binary as a separate process, so a test can kill -9 it
/// and start it again on the same data dir and port. The agent protocol's clocks are
/// shortened through `serve`'s hidden options.
public final class ServerProcess: Sendable {
    public struct Clocks: Sendable {
        public var pollWait = 5
        public var lease = 6
        public var heartbeat = 1
        public var offerTimeout: Double = 10
        public var lostGrace: Double = 6
        public var sweepMilliseconds = 200

        public init() {}

        var arguments: [String] {
            [
                "--agent-poll-wait", "\(pollWait)", "--agent-lease", "\(lease)", "--agent-heartbeat", "\(heartbeat)",
                "--agent-offer-timeout", "\(offerTimeout)", "--agent-lost-grace", "\(lostGrace)",
                "--lease-sweep-ms", "\(sweepMilliseconds)",
            ]
        }
    }

    public let dataDir: String
    public let clocks: Clocks
    let child = Mutex<ChildProcess?>(nil)
    let state = Mutex<(port: Int, logs: String)>((0, ""))

    /// Starts a server on a new or existing data dir; `port` 0 picks a free one.
    public init(dataDir: String, port: Int = 0, clocks: Clocks = Clocks()) async throws {
        self.dataDir = dataDir
        self.clocks = clocks
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        try await start(port: port)
    }

    var portFile: String { dataDir + ".port" }

    /// Starts the binary and waits until it listens; on a restart, the same port.
    public func start(port requested: Int? = nil) async throws {
        let port = requested ?? self.port
        try? FileManager.default.removeItem(atPath: portFile)
        let process = try ChildProcess(
            serverExecutable,
            [
                "serve", "--data-dir", dataDir, "--port", "\(port)", "--port-file", portFile, "--log-level", "info",
                // Restarts reuse the API's port; the dashboard's would not be known to be free.
                "--no-dashboard",
            ]
                + clocks.arguments,
            environment: [:])
        child.withLock { current in
            if let current { state.withLock { $0.logs += current.log } }
            current = process
        }
        var bound: Int?
        let listening = await eventually(timeout: .seconds(30)) {
            bound = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return bound != nil || !self.isRunning
        }
        guard listening, let bound else {
            throw TestFailure("cyberdesk-server did not start:\n\(process.log.suffix(3000))")
        }
        state.withLock { $0.port = bound }
    }

    public var port: Int { state.withLock { $0.port } }
    public var url: String { "http://127.0.0.1:\(port)" }
    public var pid: pid_t? { child.withLock { $0?.pid } }

    /// The admin key `serve` wrote on its first start.
    public var adminKey: String {
        get throws {
            try String(contentsOfFile: dataDir + "/admin-api-key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    public var api: APIClient {
        get throws { APIClient(url: url, key: try adminKey) }
    }

    /// Every line the server processes wrote so far.
    public var log: String { state.withLock { $0.logs } + (child.withLock { $0?.log } ?? "") }

    /// True while the current process runs.
    public var isRunning: Bool {
        guard let process = child.withLock({ $0 }) else { return false }
        return process.exitStatus == nil
    }

    /// Signals the current process (nothing once it has been reaped).
    public func signal(_ number: Int32) { child.withLock { $0?.signal(number) } }

    /// kill -9: no graceful shutdown, no chance to finish a write.
    public func kill9() async {
        guard let process = child.withLock({ $0 }) else { return }
        process.signal(SIGKILL)
        _ = await process.wait()
    }

    /// SIGTERM; the exit status.
    public func stop() async -> Int32? {
        guard let process = child.withLock({ $0 }) else { return nil }
        process.signal(SIGTERM)
        return await process.wait()
    }
}
