import ArgumentParser
import Foundation
import Hummingbird
import Logging

/// A stand-in for a computer-use model vendor in tests: a local HTTP server speaking the
/// Anthropic Messages and OpenAI Chat Completions wire formats that follows a script and finds
/// its click targets by reading the pixels of the screenshots it is sent (PLANNER.md).
@main
struct ScriptedModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scripted-model",
        abstract: "A scripted computer-use model speaking the Anthropic and OpenAI wire formats.")

    @Option(help: "The script (JSON: actions, faults, forever).")
    var script: String

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Host to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Write the bound port here once listening.")
    var portFile: String?

    @Option(help: "Write each request body here as NNNN.json.")
    var requestsDir: String?

    @Option(help: "Require this API key (x-api-key or Authorization: Bearer).")
    var apiKeyFile: String?

    @Flag(name: .customLong("normalized-1000"), help: "Answer coordinates in 0..1000.")
    var normalized1000 = false

    @Option(help: "Think time per answer, in milliseconds.")
    var delayMs: Int = 0

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "scripted-model")
        logger.logLevel = .info
        let loaded = try Script.load(path: script)
        let key = try apiKeyFile.map {
            try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let requestsDir {
            try FileManager.default.createDirectory(atPath: requestsDir, withIntermediateDirectories: true)
        }
        let server = ScriptedModelServer(
            script: loaded, apiKey: key, requestsDir: requestsDir, normalized: normalized1000,
            thinkTime: Double(delayMs) / 1000, logger: logger)
        let portFile = portFile
        let app = Application(
            router: server.router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "scripted-model"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? 0
                if let portFile {
                    // Written whole, then renamed: a test polling for the file never reads half of it.
                    let temporary = portFile + ".tmp"
                    try? "\(bound)\n".write(toFile: temporary, atomically: false, encoding: .utf8)
                    _ = rename(temporary, portFile)
                }
            },
            logger: logger)
        try await app.runService()
    }
}
