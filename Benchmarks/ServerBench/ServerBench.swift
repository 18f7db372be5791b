import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The control plane under load (BENCHMARKS.md, "Server (control plane)"): starts the real
/// `cyberdesk-server` binary on a fresh data dir and drives it with simulated agents on a
/// null desktop that speak the real agent protocol over loopback HTTP.
@main
struct ServerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server-bench",
        abstract: "Load benchmark of cyberdesk-server with simulated null-desktop agents.")

    @Option(help: "The cyberdesk-server binary (a release build).")
    var server: String

    @Option(help: "Scratch directory for the data dir and server logs (default: a new one under /tmp).")
    var work: String?

    @Option(help: "Passed to the server as --database (e.g. postgres://user@host/db); default its SQLite file.")
    var database: String?

    /// Whether the server runs on PostgreSQL (whose targets differ from SQLite's).
    var onPostgres: Bool { database?.hasPrefix("postgres") == true }

    @Option(help: "Server processes on one database; agents are spread over them, API calls go to another one.")
    var replicas: Int = 1

    @Option(help: "Simulated agents (each holds a long-poll).")
    var agents: Int = 10_000

    @Option(help: "Agents that join with a one-time registration token instead of the org key.")
    var tokenAgents: Int = 10

    @Option(help: "Agents joining at the same time.")
    var joinConcurrency: Int = 32

    @Option(help: "Seconds to hold the agents after they joined (more than the poll wait, so every poll renews).")
    var holdSeconds: Int = 30

    @Option(help: "The agents' poll wait in seconds (the real agent uses the server's 25).")
    var pollWait: Int = 25

    @Option(help: "Runs timed for dispatch latency (pinned; half as many unpinned).")
    var dispatchSamples: Int = 200

    @Option(help: "Unpinned runs timed for dispatch latency (each wakes every idle poll).")
    var unpinnedSamples: Int = 10

    @Option(help: "No-op steps per run.")
    var steps: Int = 4

    @Option(help: "Seconds of run creation in the throughput measurement.")
    var throughputSeconds: Int = 20

    @Option(help: "Concurrent API clients creating runs.")
    var creators: Int = 32

    @Option(help: "Throughput runs: pinned (machine_id round-robin over the agents), any (unpinned), or both.")
    var throughputModes: String = "pinned,any"

    @Option(help: "Most runs in flight during the throughput measurement (each busy agent holds a second socket).")
    var maxInFlight: Int = 1000

    @Option(help: "Running runs cancelled for cancel latency.")
    var cancelSamples: Int = 50

    @Option(help: "Agents killed mid-run (their runs must end error); 0 skips the ~46 s measurement.")
    var killSamples: Int = 3

    @Option(help: "Runs in the kill -9 burst; 0 skips it.")
    var burst: Int = 10_000

    @Option(help: "Agents kept for the kill -9 burst (the others are killed first).")
    var crashAgents: Int = 1000

    @Option(help: "Share of the burst completed when the server is killed.")
    var killFraction: Double = 0.3

    @Option(help: "Seconds allowed after the restart for every burst run to end.")
    var recoverySeconds: Int = 900

    @Option(help: "Scenarios to run, comma-separated: agents,dispatch,throughput,cancel,killed,crash.")
    var scenarios: String = "agents,dispatch,throughput,cancel,killed,crash"

    @Option(help: "The server's --log-level.")
    var serverLogLevel: String = "info"

    @Option(help: "Also write the Markdown table to this file.")
    var out: String?

    mutating func run() async throws {
        if work == nil {
            var template = Array("/tmp/server-bench.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw ValidationError("cannot create a scratch directory") }
            work = String(cString: made)
        }
        try FileManager.default.createDirectory(atPath: work!, withIntermediateDirectories: true)
        let limit = raiseFileLimit(wanted: max(65_536, agents * 2 + 4096))
        log("open-file limit \(limit) (the server inherits it)")
        if limit < agents + 2048 {
            log("warning: \(agents) agents need about \(agents + 2048) open files; raise the hard limit")
        }
        let wanted = Set(scenarios.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let bench = Bench(options: self, work: work!)
        try bench.startServers()
        defer { bench.shutdown() }
        try await bench.setUp()
        log("load average at start: \(loadAverage())")
        try await bench.holdAgents()
        if wanted.contains("dispatch") {
            log("dispatch latency")
            try await bench.dispatchLatency()
        }
        if wanted.contains("throughput") {
            for mode in throughputModes.split(separator: ",") {
                log("throughput (\(mode)) for \(throughputSeconds) s")
                try await bench.throughput(pinned: mode == "pinned")
            }
        }
        if wanted.contains("cancel") {
            log("cancel latency")
            try await bench.cancelLatency()
        }
        if wanted.contains("killed") && killSamples > 0 {
            log("killed agents (about 46 s)")
            try await bench.killedAgent()
        }
        if wanted.contains("crash") && burst > 0 {
            log("kill -9 during a \(burst)-run burst")
            try await bench.crashBurst()
        }
        let table = bench.table()
        print(table)
        if let out { try table.write(toFile: out, atomically: true, encoding: .utf8) }
        log("scratch directory: \(work!)")
    }
}
