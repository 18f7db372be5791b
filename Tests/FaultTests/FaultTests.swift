import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

/// Faults a customer lives through, each asserted by what the public API (and the desktop)
/// shows: an agent killed or restarted mid-run, the server killed during a burst of runs,
/// the network cut or stalled, the server's disk full, a step failing. Everything is real:
/// the `cyberdesk-agent` binary, the server (in process, or the `cyberdesk-server` binary
/// where it must die), Xvfb, sockets. One suite, serialized: the tests measure times.
@Suite(.serialized, .enabled(if: XvfbServer.isAvailable, "Xvfb is not installed: run scripts/install-deps"))
struct FaultTests {
    /// A trajectory step, as the public API takes it.
    static func step(_ name: String, _ args: [JSONValue] = [], _ kwargs: JSONObject = [:]) -> JSONValue {
        var step: JSONObject = ["func_name": .string(name)]
        if !args.isEmpty { step["args"] = .array(args) }
        if !kwargs.isEmpty { step["kwargs"] = .object(kwargs) }
        return .object(step)
    }

    /// A run of one `set_output` step succeeds: the machine takes work.
    static func expectMachineTakesWork(_ api: APIClient, context: @escaping () -> String, timeout: Duration = .seconds(30))
        async throws
    {
        let quick = try await api.workflow("quick", steps: [step("set_output", [], ["key": "done", "value": "yes"])])
        let runID = try await api.run(quick)
        let finished = try await api.waitForRun(runID, timeout: timeout, context: context)
        #expect(finished["status"]?.stringValue == "success", "\(finished["error"] ?? .null)\n\(context().suffix(3000))")
    }

    static func firstError(_ run: JSONObject) -> String { run["error"]?.arrayValue?.first?.stringValue ?? "" }
}

/// Seconds since midnight UTC of a log line's `2025-11-29T09:45:00.123Z` prefix (the
/// daemons' plain log format when stderr is a file), or nil.
func logTime(_ line: Substring) -> Double? {
    guard line.count > 24, line.dropFirst(10).first == "T" else { return nil }
    let parts = line.dropFirst(11).prefix(12).split(separator: ":")
    guard parts.count == 3, let hours = Double(parts[0]), let minutes = Double(parts[1]),
        let seconds = Double(parts[2])
    else { return nil }
    return hours * 3600 + minutes * 60 + seconds
}
