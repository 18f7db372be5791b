import Agent
import CyberdeskAPI
import Desktop
import Foundation
import TestSupport

/// One executor test's world: a private Xvfb with a real desktop driver on it, a temporary
/// home (the real one is never touched), a fake control plane and collected logs.
final class ExecutorWorld {
    let server: XvfbServer
    let desktop: X11Desktop
    let home: String
    let environment: FakeRunEnvironment
    let logs = LogCollector()
    var configuration: ExecutorConfiguration

    var transfers: String { configuration.transfersDirectory }

    private init(server: XvfbServer, desktop: X11Desktop, home: String, environment: FakeRunEnvironment) {
        self.server = server
        self.desktop = desktop
        self.home = home
        self.environment = environment
        self.configuration = ExecutorConfiguration(
            homeDirectory: home, terminalEnvironment: ["DISPLAY": server.display, "LC_ALL": "C.UTF-8"])
    }

    /// Runs `body` in a new world and tears it down afterwards, also when `body` throws: the
    /// display connection must close before its Xvfb goes away.
    static func with<T>(
        width: Int = 1280, height: Int = 800, secrets: [String: JSONValue] = [:],
        attachments: [String: [UInt8]] = [:], _ body: (ExecutorWorld) async throws -> T
    ) async throws -> T {
        let server = try XvfbServer(width: width, height: height)
        let desktop = try await X11Desktop(.init(displayName: server.display))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cyberdesk-executor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let home = directory.resolvingSymlinksInPath().path
        let world = ExecutorWorld(
            server: server, desktop: desktop, home: home,
            environment: FakeRunEnvironment(secrets: secrets, attachments: attachments))
        do {
            let result = try await body(world)
            await world.close()
            return result
        } catch {
            await world.close()
            throw error
        }
    }

    private func close() async {
        await desktop.close()
        try? FileManager.default.removeItem(atPath: home)
    }

    func executor() -> RunExecutor {
        RunExecutor(
            desktop: desktop, environment: environment, configuration: configuration, logger: logs.logger())
    }

    func assignment(
        _ steps: [JSONValue], dimensions: DisplaySize? = nil, inputs: JSONObject = [:], sensitive: [String] = [],
        fileInputs: [FileInputDescriptor] = [], includesFileExports: Bool = false, allowlist: [String]? = nil,
        planner: PlannerAssignment? = nil
    ) -> RunAssignment {
        RunAssignment(
            runID: "run_test", attempt: 1, workflowID: "wf_test", workflowName: "test", mainPrompt: "test",
            includesFileExports: includesFileExports, terminalCommandAllowlist: allowlist, steps: steps,
            trajectoryID: "traj_test", dimensions: dimensions, inputValues: inputs, sensitiveNames: sensitive,
            fileInputs: fileInputs, sessionID: nil, planner: planner)
    }

    func run(
        _ steps: [JSONValue], dimensions: DisplaySize? = nil, inputs: JSONObject = [:], sensitive: [String] = [],
        fileInputs: [FileInputDescriptor] = [], includesFileExports: Bool = false, allowlist: [String]? = nil
    ) async -> RunOutcome {
        await executor().execute(
            assignment(
                steps, dimensions: dimensions, inputs: inputs, sensitive: sensitive, fileInputs: fileInputs,
                includesFileExports: includesFileExports, allowlist: allowlist))
    }

    // MARK: Files

    /// Writes a file at a path relative to the home (directories created).
    @discardableResult
    func write(_ text: String, to relative: String) throws -> String {
        let path = home + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func read(_ relative: String) -> String? {
        (try? Data(contentsOf: URL(fileURLWithPath: home + "/" + relative))).map { String(decoding: $0, as: UTF8.self) }
    }

    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: home + "/" + relative)
    }
}

/// A step in the JSON format of `STEPS.md`.
func step(_ name: String, _ args: JSONValue..., kwargs: JSONObject = [:]) -> JSONValue {
    var object: JSONObject = ["func_name": .string(name)]
    if !args.isEmpty { object["args"] = .array(args) }
    if !kwargs.isEmpty { object["kwargs"] = .object(kwargs) }
    return .object(object)
}
