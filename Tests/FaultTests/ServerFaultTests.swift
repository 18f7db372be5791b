import CyberdeskAPI
import Foundation
import SystemTestSupport
import TestSupport
import Testing

extension FaultTests {
    static let burstRuns = 60
    static let burstAgents = 3

    /// kill -9 of the `cyberdesk-server` process while three agents work through a burst of
    /// 60 runs, then the same binary started again on the same data dir and port: every
    /// run reaches a terminal state, none is lost, none is executed twice (each run appends
    /// its own marker to a file), the agents reconnect by themselves, and their reconnects
    /// are spread out by the full-jitter backoff instead of arriving together.
    @Test func serverKilledDuringABurstLosesNoRunAndRunsNoneTwice() async throws {
        let xvfb = try XvfbServer()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cyberdesk-burst-\(UUID().uuidString)"
        ).path
        var clocks = ServerProcess.Clocks()
        clocks.lease = 10
        clocks.lostGrace = 10
        let server = try await ServerProcess(dataDir: root + "/server", clocks: clocks)
        let agents = try (0..<Self.burstAgents).map {
            try AgentProcess(root: root + "/agent-\($0)", display: xvfb.display, name: "burst-\($0)")
        }
        defer {
            for agent in agents { agent.signal(SIGKILL) }
            server.signal(SIGKILL)
        }
        let api = try server.api
        let context = { "server:\n\(server.log.suffix(2000))\nagent 0:\n\(agents[0].log.suffix(2000))" }
        var machines: [String] = []
        for agent in agents {
            machines.append(try await agent.join(server: server.url, apiKey: try server.adminKey))
            try agent.start()
        }
        for machineID in machines {
            let connected = await eventually(timeout: .seconds(20)) {
                (try? await api.get("/v1/machines/\(machineID)"))?["status"]?.stringValue == "connected"
            }
            #expect(connected, "\(context())")
        }

        let executions = root + "/executions.log"
        let workflow = try await api.workflow(
            "burst", steps: [Self.step("execute_terminal_command", [], ["command": .string("echo {marker} >> \(executions)")])])
        var markers: [String: String] = [:]
        for index in 0..<Self.burstRuns {
            let marker = "run-\(index)-\(UUID().uuidString.prefix(8))"
            markers[try await api.run(workflow, inputs: ["marker": .string(marker)])] = marker
        }
        func executed() -> [String] {
            ((try? String(contentsOfFile: executions, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        // Mid-burst: a quarter of the runs executed, most still queued or running.
        #expect(await eventually(timeout: .seconds(60)) { executed().count >= Self.burstRuns / 4 }, "\(context())")
        let linesBefore = agents.map { $0.log.split(separator: "\n").count }
        let executedAtKill = executed().count
        #expect(executedAtKill < Self.burstRuns, "the burst was over before the kill")
        await server.kill9()
        // Down until every agent has noticed (a quick restart could otherwise answer an
        // agent's next poll on its old connection, and it would never reconnect).
        let noticed = await eventually(timeout: .seconds(10)) {
            agents.indices.allSatisfy { index in
                agents[index].log.split(separator: "\n").dropFirst(linesBefore[index]).contains {
                    $0.contains("server unreachable")
                }
            }
        }
        #expect(noticed, "not every agent noticed the server was gone")
        try await server.start()
        let restartedAt = Self.utcTimeOfDay()

        // Each agent reconnects by itself. Its log says when (ms resolution): every failed
        // attempt logs the jittered delay before the next, so the successful attempt was
        // sent at the last such line's time plus its delay, and "connected" follows.
        var reconnects: [Reconnect] = []
        for (index, agent) in agents.enumerated() {
            var reconnect: Reconnect?
            let back = await eventually(timeout: .seconds(60)) {
                reconnect = Reconnect(log: agent.log.split(separator: "\n").dropFirst(linesBefore[index]))
                return reconnect != nil
            }
            #expect(back, "agent \(index) did not reconnect:\n\(agent.log.suffix(3000))")
            if let reconnect { reconnects.append(reconnect) }
        }

        var statuses: [String: Int] = [:]
        var ended: [String: JSONObject] = [:]
        for runID in markers.keys {
            let run = try await api.waitForRun(runID, timeout: .seconds(90), context: context)
            ended[runID] = run
            statuses[run["status"]?.stringValue ?? "?", default: 0] += 1
        }
        let lines = executed()
        var counts: [String: Int] = [:]
        for line in lines { counts[line, default: 0] += 1 }
        let known = Set(markers.values)
        #expect(Set(counts.keys).isSubset(of: known), "unknown lines: \(Set(counts.keys).subtracting(known))")
        #expect(counts.values.allSatisfy { $0 == 1 }, "executed twice: \(counts.filter { $0.value > 1 })")
        for (runID, run) in ended where run["status"]?.stringValue == "success" {
            #expect(counts[markers[runID]!] == 1, "run \(runID) succeeded but its command ran \(counts[markers[runID]!] ?? 0) times")
        }
        // None lost: every run ended, and every run the agents did not execute says why.
        for (runID, run) in ended where counts[markers[runID]!] == nil {
            #expect(run["status"]?.stringValue != "success", "run \(runID) succeeded without executing")
        }
        // A server restart loses nothing (AGENT-PROTOCOL.md): not even a run to a spurious error.
        #expect(statuses["success", default: 0] == Self.burstRuns, "\(statuses)")

        for (runID, run) in ended where run["status"]?.stringValue != "success" {
            print("burst run \(runID) ended \(run["status"]?.stringValue ?? "?"): \(Self.firstError(run))")
        }
        let attempts = reconnects.map(\.attemptedAt)
        let spread = (attempts.max() ?? 0) - (attempts.min() ?? 0)
        let connected = reconnects.map(\.connectedAt)
        let connectedSpread = (connected.max() ?? 0) - (connected.min() ?? 0)
        func relative(_ times: [Double]) -> [Double] { times.map { (($0 - restartedAt) * 1000).rounded() / 1000 } }
        print(
            "server kill -9 burst: \(Self.burstRuns) runs, \(executedAtKill) executed at the kill, statuses \(statuses); "
                + "first retry delays \(reconnects.map(\.firstDelay)) s; successful attempts \(relative(attempts)) s "
                + "after the restart (spread \(Int(spread * 1000)) ms), connected \(relative(connected)) s "
                + "(spread \(Int(connectedSpread * 1000)) ms), \(reconnects.map(\.failures)) failed attempts")
        // Full jitter: agents that lost the server at the same instant do not retry in step.
        #expect(reconnects.count == Self.burstAgents)
        #expect(spread > 0.01, "attempts within \(spread) s of each other: \(reconnects)")
        let firstDelays = reconnects.map(\.firstDelay)
        #expect((firstDelays.max() ?? 0) - (firstDelays.min() ?? 0) >= 0.02, "same first delays: \(firstDelays)")

        for agent in agents { #expect(await agent.stop() == 0) }
        #expect(await server.stop() == 0)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// How one agent came back after the server died, from its log lines since then.
    struct Reconnect: CustomStringConvertible {
        /// The delay it drew after its first failure.
        var firstDelay: Double
        /// When it sent the attempt that succeeded (seconds since midnight UTC).
        var attemptedAt: Double
        /// When it logged "connected".
        var connectedAt: Double
        var failures: Int

        init?(log lines: ArraySlice<Substring>) {
            var retries: [(at: Double, delay: Double)] = []
            for line in lines {
                guard let time = logTime(line) else { continue }
                if line.contains("server unreachable; retrying"), let range = line.range(of: "retry_in_s="),
                    let delay = Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
                {
                    retries.append((time, delay))
                } else if line.contains(" connected connection.id="), let last = retries.last,
                    let first = retries.first
                {
                    firstDelay = first.delay
                    attemptedAt = last.at + last.delay
                    connectedAt = time
                    failures = retries.count
                    return
                }
            }
            return nil
        }

        var description: String { "attempt at \(attemptedAt), connected at \(connectedAt), first delay \(firstDelay)" }
    }

    static func utcTimeOfDay() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var fields = tm()
        gmtime_r(&seconds, &fields)
        return Double(fields.tm_hour * 3600 + fields.tm_min * 60 + fields.tm_sec) + Double(now.tv_nsec) / 1e9
    }

    /// The server's data dir on a small tmpfs that the test fills: API calls that must write
    /// get a clear 503 within seconds (no crash, no hang, no 500), reads still work, writes
    /// work again once space returns, and the SQLite store passes `PRAGMA integrity_check`
    /// with the earlier data intact. Remounted read-only, the data dir makes `serve` refuse
    /// to start with a message saying so (exit 1, no crash); writable again, it starts.
    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"))
    func aFullOrReadOnlyDiskGivesClearErrorsKeepsTheStoreAndRecovers() async throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cyberdesk-full-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try await runProcess("mount", ["-t", "tmpfs", "-o", "size=12m", "tmpfs", mountPoint])
        try #require(mounted.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        var server: ServerProcess?
        do {
            let started = try await ServerProcess(dataDir: mountPoint + "/server")
            server = started
            try await diskFull(started, mountPoint: mountPoint)
        } catch {
            server?.signal(SIGKILL)
            _ = try? await runProcess("umount", ["-l", mountPoint])
            throw error
        }
        _ = try? await runProcess("umount", ["-l", mountPoint])
        try? FileManager.default.removeItem(atPath: mountPoint)
    }

    func diskFull(_ server: ServerProcess, mountPoint: String) async throws {
        let api = try server.api
        var earlier: [String] = []
        for index in 0..<5 {
            earlier.append(try await api.workflow("before the disk filled \(index)", steps: [Self.step("wait", [1])]))
        }
        let earlierRun = try await api.run(earlier[0])

        // Fill the file system to the last block.
        let filler = mountPoint + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        let chunk = [UInt8](repeating: 0x5A, count: 64 << 10)
        var size = chunk.count
        while size > 0 {
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, size) }) == size {}
            size /= 2
        }
        close(fd)

        let padding = String(repeating: "x", count: 4000)
        var answers: [(status: Int, detail: String, seconds: Double)] = []
        for index in 0..<60 {
            let start = ContinuousClock.now
            let answer = try await api.request(
                .POST, "/v1/workflows", json: ["main_prompt": .string("while full \(index) \(padding)")], timeout: 20)
            let elapsed = ContinuousClock.now - start
            answers.append(
                (
                    answer.status, String(decoding: answer.body, as: UTF8.self),
                    Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                ))
            if answer.status != 201 { break }
        }
        let refused = try #require(answers.last, "no answer")
        print("disk full: \(answers.count) writes, last answered \(refused.status) in \(refused.seconds) s: \(refused.detail)")
        #expect(refused.status == 503, "\(refused.detail)")
        #expect(refused.detail.contains("the server's disk is full"), "\(refused.detail)")
        #expect(answers.allSatisfy { $0.seconds < 10 }, "slow answers: \(answers.map(\.seconds))")
        // A file input (a blob) while full: refused as clearly.
        let content = Data(repeating: 0x41, count: 256 << 10).base64EncodedString()
        let upload = try await api.request(
            .POST, "/v1/runs",
            json: [
                "workflow_id": .string(earlier[1]),
                "file_inputs": [["filename": "chart.txt", "content": .string(content)]],
            ], timeout: 20)
        let uploadDetail = String(decoding: upload.body, as: UTF8.self)
        #expect(upload.status == 503, "\(upload.status): \(uploadDetail)")
        #expect(uploadDetail.contains("the server's disk is full"), "\(uploadDetail)")
        // Reads still work and the server is alive.
        #expect(server.isRunning, "\(server.log.suffix(3000))")
        for id in earlier { #expect((try? await api.get("/v1/workflows/\(id)"))?["id"]?.stringValue == id) }

        // Space returns: writes work again without a restart.
        try FileManager.default.removeItem(atPath: filler)
        var recovered: String?
        _ = await eventually(timeout: .seconds(10)) {
            recovered = try? await api.workflow("after the disk emptied", steps: [Self.step("wait", [1])])
            return recovered != nil
        }
        let recoveredID = try #require(recovered, "writes did not recover: \(server.log.suffix(3000))")

        #expect(await server.stop() == 0, "\(server.log.suffix(3000))")

        // The store is sound and holds everything written before, and nothing half-written.
        let check = try await runProcess(
            "sqlite3", [server.dataDir + "/cyberdesk.sqlite", "PRAGMA integrity_check;"])
        #expect(String(decoding: check.stdout, as: UTF8.self) == "ok\n", "\(check.stderr)")

        // A read-only data dir (as root, chmod does not stop a write; a read-only mount does):
        // the server refuses to start with a message naming the problem, a clean exit, not
        // a crash or a hang.
        let readOnly = try await runProcess("mount", ["-o", "remount,ro", mountPoint])
        try #require(readOnly.status == 0, "cannot remount read-only: \(readOnly.stderr)")
        let refusing = try ChildProcess(
            serverExecutable, ["serve", "--data-dir", server.dataDir, "--port", "0"], environment: [:])
        let exited = await eventually(timeout: .seconds(20)) { refusing.exitStatus != nil }
        if !exited { refusing.signal(SIGKILL) }
        let status = await refusing.wait()
        print("read-only data dir: serve exited with status \(status) and: \(refusing.log.suffix(300))")
        #expect(exited, "serve hung on a read-only data dir")
        #expect(status == 1, "serve crashed or failed oddly (status \(status)):\n\(refusing.log.suffix(3000))")
        #expect(refusing.log.contains("read-only"), "\(refusing.log.suffix(3000))")
        let writable = try await runProcess("mount", ["-o", "remount,rw", mountPoint])
        try #require(writable.status == 0, "cannot remount read-write: \(writable.stderr)")
        try await server.start()
        for id in earlier + [recoveredID] {
            #expect((try? await api.get("/v1/workflows/\(id)"))?["id"]?.stringValue == id)
        }
        #expect((try? await api.get("/v1/runs/\(earlierRun)"))?["id"]?.stringValue == earlierRun)
        let all = try await api.get("/v1/workflows?limit=100")
        let prompts = all["items"]?.arrayValue?.compactMap { $0.objectValue?["main_prompt"]?.stringValue } ?? []
        let whileFull = prompts.filter { $0.hasPrefix("while full") }.count
        #expect(whileFull == answers.filter { $0.status == 201 }.count, "only the answered writes are stored")
        #expect(await server.stop() == 0)
    }
}
