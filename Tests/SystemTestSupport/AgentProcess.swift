import CyberdeskAPI
import Foundation
import Synchronization
import TestSupport

/// One machine: the real `cyberdesk-agent` binary with a HOME and state dir of its own, on a
/// given X display (several agents may share one Xvfb).
public final class AgentProcess: Sendable {
    public let home: String
    public let stateDir: String
    public let display: String
    public let name: String
    let child = Mutex<ChildProcess?>(nil)
    /// The logs of the processes before the current one (a restarted agent appends).
    let earlierLogs = Mutex("")

    public init(root: String, display: String, name: String = "e2e-desktop") throws {
        home = root + "/home"
        stateDir = root + "/agent-state"
        self.display = display
        self.name = name
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    }

    public var environment: [String: String] {
        ["HOME": home, "DISPLAY": display, "XDG_STATE_HOME": home + "/.state", "LC_ALL": "C.UTF-8"]
    }

    /// `cyberdesk-agent join` with the API key in a file, as a user would; the machine id.
    public func join(server: String, apiKey: String, pools: [String] = []) async throws -> String {
        let keyFile = home + "/.api-key"
        try Data((apiKey + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        let result = try await runProcess(
            agentExecutable,
            ["join", "--server", server, "--api-key-file", keyFile, "--state-dir", stateDir, "--name", name]
                + pools.flatMap { ["--pool", $0] },
            environment: environment)
        guard result.status == 0 else { throw TestFailure("join failed: \(result.stderr)") }
        let answer = try JSONDecoder().decode([String: String].self, from: result.stdout)
        guard let machineID = answer["machine_id"] else { throw TestFailure("join printed no machine_id") }
        return machineID
    }

    /// Starts `cyberdesk-agent run` (it does not wait for the connection).
    public func start() throws {
        let process = try ChildProcess(
            agentExecutable, ["run", "--state-dir", stateDir, "--log-level", "debug"], environment: environment)
        child.withLock { current in
            if let current { earlierLogs.withLock { $0 += current.log } }
            current = process
        }
    }

    /// Every line the agent processes of this machine wrote so far.
    public var log: String { earlierLogs.withLock { $0 } + (child.withLock { $0?.log } ?? "") }

    /// The current process's log only.
    public var currentLog: String { child.withLock { $0?.log } ?? "" }

    public func signal(_ number: Int32) { child.withLock { $0?.signal(number) } }

    /// Waits for the current process to exit; its status.
    public func wait() async -> Int32? {
        guard let process = child.withLock({ $0 }) else { return nil }
        return await process.wait()
    }

    /// SIGTERM; the exit status.
    public func stop() async -> Int32? {
        signal(SIGTERM)
        return await wait()
    }

    /// kill -9 and reap.
    public func kill() async {
        signal(SIGKILL)
        _ = await wait()
    }
}
