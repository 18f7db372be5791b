import Agent
import ArgumentParser
import CyberdeskAPI
import Desktop
import Dispatch
import Recorder

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `cyberdesk-agent record`: a person does the task once; the trajectory is written (and
/// uploaded). The work is in the Recorder library; this is wiring.
struct Record: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a demonstration on the X display as a trajectory with checkpoints.",
        discussion: """
            Records every key, click, drag and scroll on the display until Ctrl-C, SIGTERM or the \
            stop chord, prints one line per step as it goes, and writes \
            {"dimensions": ..., "trajectory_data": [...]} to the output file. Typed text equal to an \
            --input value becomes {NAME}, equal to a --secret-file value {$NAME}; a secret's \
            characters are never printed or written. Do not record while the agent performs a run \
            on the same display: its input would be recorded too.
            """)

    @OptionGroup var options: AgentOptions
    @Option(name: .shortAndLong, help: "The trajectory file to write.") var output: String
    @Option(name: .customLong("display"), help: "X display to record (default: $DISPLAY).") var display: String?
    @Option(help: "The chord that ends the recording; it is not recorded.") var stopKey = "ctrl+alt+shift+s"
    @Option(help: "NAME=VALUE: typed text equal to VALUE is written {NAME} (repeatable).") var input: [String] = []
    @Option(
        help:
            "NAME=FILE: typed text equal to the file's content (one trailing newline dropped) is written {$NAME} (repeatable)."
    )
    var secretFile: [String] = []
    @Option(help: "Pauses longer than this many seconds become wait steps.") var waitThreshold = 2.0
    @Option(help: "The longest wait step written, in seconds.") var maxWait = 5.0
    @Flag(help: "Also create the trajectory on the server (unapproved) for --workflow.") var upload = false
    @Option(help: "The workflow the uploaded trajectory belongs to.") var workflow: String?
    @Option(help: "File with an organization API key for --upload ('-' for stdin).") var apiKeyFile: String?
    @Option(help: "The control plane's URL for --upload (default: the server this machine joined).")
    var server: String?
    @Option(help: "Name of the uploaded trajectory.") var name: String?
    @Flag(help: "Print event-to-step latencies (p50, p99, max) on stderr at the end.") var stats = false

    func validate() throws {
        if upload {
            guard workflow != nil else { throw ValidationError("--upload needs --workflow ID") }
            guard apiKeyFile != nil else {
                throw ValidationError(
                    "--upload needs --api-key-file: the agent protocol does not let a machine create trajectories")
            }
        }
        guard waitThreshold > 0, maxWait >= waitThreshold else {
            throw ValidationError("--wait-threshold must be positive and --max-wait at least as long")
        }
    }

    func run() async throws {
        var values: [TypedTextTemplater.Value] = []
        for pair in input {
            let (name, value) = try split(pair, option: "--input")
            values.append(.init(name: name, value: value, isSecret: false))
        }
        for pair in secretFile {
            let (name, path) = try split(pair, option: "--secret-file")
            guard let bytes = try AgentFiles.read(path) else {
                throw ValidationError("secret file \(path) for \(name) does not exist")
            }
            var value = String(decoding: bytes, as: UTF8.self)
            if value.hasSuffix("\r\n") { value.removeLast() } else if value.hasSuffix("\n") { value.removeLast() }
            values.append(.init(name: name, value: value, isSecret: true))
        }
        var settings = DemonstrationRecorder.Settings()
        do {
            settings.coalescer.stopChord = try StepCoalescer.StopChord(parsing: stopKey)
        } catch {
            throw ValidationError("\(error)")
        }
        settings.coalescer.waitThreshold = Int64(waitThreshold * 1000)
        settings.coalescer.maximumWait = Int64(maxWait * 1000)
        let templater: TypedTextTemplater
        do {
            templater = try TypedTextTemplater(values)
        } catch {
            throw ValidationError("\(error)")
        }
        var apiKey: String?
        var serverURL = server
        if upload {
            apiKey = try readSecret(apiKeyFile ?? "-", what: "API key")
            if serverURL == nil {
                let state = StateDirectory(path: try options.settings().stateDir)
                serverURL = try state.credential()?.server
            }
            guard serverURL != nil else {
                throw ValidationError("--upload needs --server URL (this machine has not joined a server)")
            }
        }

        // XRecord sees the agent's XTest input like a person's: say so when this machine's
        // daemon reports a run in progress (its status file; it may be stale after a crash).
        if let state = try? options.settings().stateDir, let run = StateDirectory(path: state).status()?.currentRun {
            printError(
                "cyberdesk-agent: warning: the agent reports run \(run) in progress; its input would be recorded too")
        }
        for number in [SIGINT, SIGTERM] { signal(number, SIG_IGN) }
        let displayName = display ?? getenv("DISPLAY").map { String(cString: $0) } ?? ""
        let desktop: X11Desktop
        do {
            desktop = try await X11Desktop(.init(displayName: displayName))
        } catch {
            throw fail(error)
        }
        let recorder = DemonstrationRecorder(
            desktop: desktop, displayName: displayName, settings: settings, templater: templater)
        let signals = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { Task { await recorder.stop() } }
            source.resume()
            return source
        }
        defer { for source in signals { source.cancel() } }
        let stopKey = self.stopKey
        let result: DemonstrationRecorder.Result
        do {
            result = try await recorder.record {
                printError("cyberdesk-agent: recording \(displayName); stop with \(stopKey) or Ctrl-C")
            } onStep: { index, summary in
                printLine("\(index)\t\(summary)")
            }
        } catch {
            await desktop.close(releasingHeldInput: false)
            throw fail(error)
        }
        await desktop.close(releasingHeldInput: false)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(result.json)
        data.append(0x0A)
        do {
            try writeFileAtomically(Array(data), to: output)
        } catch {
            printError("cyberdesk-agent: error: cannot write \(output): \(error)")
            throw ExitCode.failure
        }
        printError("cyberdesk-agent: wrote \(result.steps.count) steps to \(output)")
        if stats { printError(Self.latencySummary(result.latencies)) }

        if upload, let apiKey, let serverURL, let workflow {
            let client = AgentClient(server: serverURL, credential: apiKey)
            do {
                let id = try await client.createTrajectory(
                    TrajectoryCreate(
                        workflowID: workflow, trajectoryData: result.steps,
                        dimensions: [
                            "width": .int(Int64(result.dimensions.width)),
                            "height": .int(Int64(result.dimensions.height)),
                        ],
                        name: name, isApproved: false))
                printError("cyberdesk-agent: uploaded trajectory \(id) (unapproved) for workflow \(workflow)")
            } catch {
                printError("cyberdesk-agent: error: upload failed: \(error); the trajectory is in \(output)")
                throw ExitCode.failure
            }
        }
    }

    private func split(_ pair: String, option: String) throws -> (String, String) {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("\(option) takes NAME=VALUE")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }

    static func latencySummary(_ latencies: [Int64]) -> String {
        guard !latencies.isEmpty else { return "latency: no steps" }
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Int64 { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return "latency ms: steps \(sorted.count) p50 \(percentile(0.5)) p99 \(percentile(0.99)) max \(sorted.last!)"
    }
}

/// One line on stdout, written at once (the step log is read as it goes).
func printLine(_ line: String) {
    _ = writeAll(STDOUT_FILENO, Array((line + "\n").utf8))
}
