import CyberdeskAPI
import Foundation
import TestSupport

/// The scripted computer-use model (`Tests/ScriptedModel`), a stand-in for a model vendor's
/// API, which cannot be reached from here: a local server speaking the Anthropic Messages and
/// OpenAI Chat Completions wire formats that finds its targets in the pixels of the
/// screenshots it is sent. Started as the real binary, on an ephemeral port; every request
/// it received is kept for the tests' secret scans.
public final class ScriptedModel: Sendable {
    public let url: String
    public let apiKey: String
    let process: ChildProcess
    let directory: String

    /// - Parameter script: the `--script` JSON (`{"actions": [...], "faults": [...], "forever": ...}`).
    public init(
        script: JSONValue, apiKey: String = "sk-scripted-\(UInt32.random(in: 100_000...999_999))",
        arguments: [String] = []
    )
        async throws
    {
        directory = NSTemporaryDirectory() + "cyberdesk-model-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/requests", withIntermediateDirectories: true)
        let scriptPath = directory + "/script.json"
        try Data(APIJSON.encoder().encode(script)).write(to: URL(fileURLWithPath: scriptPath))
        let keyPath = directory + "/api-key"
        try Data(apiKey.utf8).write(to: URL(fileURLWithPath: keyPath))
        let portFile = directory + "/port"
        self.apiKey = apiKey
        process = try ChildProcess(
            builtExecutable("scripted-model"),
            [
                "--script", scriptPath, "--port", "0", "--port-file", portFile, "--requests-dir",
                directory + "/requests", "--api-key-file", keyPath,
            ] + arguments, environment: ProcessInfo.processInfo.environment)
        var port = ""
        let started = await eventually(timeout: .seconds(20)) {
            port = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines)
            return !port.isEmpty
        }
        guard started else { throw TestFailure("the scripted model did not start: \(process.log)") }
        url = "http://127.0.0.1:\(port)"
    }

    /// The bodies of the requests it received, in order.
    public var requests: [[UInt8]] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/requests")) ?? []).sorted()
        return names.compactMap { FileManager.default.contents(atPath: directory + "/requests/" + $0).map(Array.init) }
    }

    public var log: String { process.log }

    public func stop() async {
        process.signal(SIGTERM)
        _ = await process.wait()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
