import AsyncHTTPClient
import ControlPlane
import CyberdeskAPI
import Foundation
import NIOCore
import NIOHTTP1
import SystemTestSupport
import TestSupport
import Testing

typealias System = SystemTestSupport.System

/// Two replicas of the control plane on one PostgreSQL database, each with its own data
/// directory holding copies of the vault and URL-signing keys (attachments live in the
/// database): the agent long-polls replica A and every API call goes to replica B. The fallback poll of the queue is switched off (an hour), so
/// only LISTEN/NOTIFY can carry B's news to A within the tests' timeouts.
@Suite(.serialized, .enabled(if: PostgresTestServer.url != nil, "needs CYBERDESK_TEST_POSTGRES_URL"))
struct ReplicaTests {
    /// Runs `body` with replica A (the system's own server, where the agent polls) and
    /// replica B (where the API calls go), on a fresh schema.
    func withReplicas(
        width: Int = 1280, height: Int = 800, _ body: (System, InProcessServer) async throws -> Void
    ) async throws {
        try await PostgresTestServer.withSchema(url: try #require(PostgresTestServer.url)) { database in
            try await System.with(
                width: width, height: height, database: database, fallbackInterval: .seconds(3600)
            ) { system in
                // Replica B has its own data directory with copies of the two key files: blobs
                // live in the database, so no file system is shared.
                let dataDirB = system.dataDir + "-replica-b"
                try FileManager.default.createDirectory(atPath: dataDirB, withIntermediateDirectories: true)
                for key in ["vault.key", "url-signing.key"] {
                    try FileManager.default.copyItem(atPath: system.dataDir + "/" + key, toPath: dataDirB + "/" + key)
                }
                let replica = try await InProcessServer.start(
                    dataDir: dataDirB, database: database, logger: system.serverLog.logger(label: "replica-b"),
                    fallbackInterval: .seconds(3600))
                system.apiURL.withLock { $0 = replica.url }
                do {
                    try await body(system, replica)
                } catch {
                    await replica.stop()
                    throw error
                }
                await replica.stop()
            }
        }
    }

    @Test func aRunCreatedOnOneReplicaWakesPollsOnTheOther() async throws {
        try await withReplicas { system, replica in
            let machineID = try await system.join()
            let workflowID = try await system.workflow("wait", steps: [["func_name": "wait", "args": [0.1]]])
            let hubA = system.server.app.hub
            let before = hubA.stamp(machineID)
            let created = ContinuousClock.now
            _ = try await system.call(
                .POST, "/v1/runs", json: ["workflow_id": .string(workflowID), "machine_id": .string(machineID)],
                expect: 201)
            // Nothing but B's notification changes A's wake stamp: no agent polls yet and the
            // fallback poll is off.
            let woken = await eventually(timeout: .seconds(10)) {
                hubA.stamp(machineID) != before
            }
            #expect(woken, "replica A never heard of the run created on replica B")
            print("replica wake-up after creation: \(ContinuousClock.now - created)")
        }
    }

    @Test func aReplicaWithOtherKeyFilesIsRefusedAtStart() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cyberdesk-keys-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await PostgresTestServer.withSchema(url: try #require(PostgresTestServer.url)) { database in
            let first = try await InProcessServer.start(dataDir: root + "/a", database: database, logger: .silent)
            await first.stop()
            // A second server with a data directory of its own, so freshly made keys: its
            // sealed secrets and signed links would not work on the first, so it must not start.
            let error = await #expect(throws: StoreError.self) {
                let second = try await InProcessServer.start(dataDir: root + "/b", database: database, logger: .silent)
                await second.stop()
            }
            #expect(
                error.map { "\($0)" }?.contains("vault.key is not the key this database's data was made with") == true)
            // With copies of the first server's key files it starts.
            for key in ["vault.key", "url-signing.key"] {
                try FileManager.default.removeItem(atPath: root + "/b/" + key)
                try FileManager.default.copyItem(atPath: root + "/a/" + key, toPath: root + "/b/" + key)
            }
            let second = try await InProcessServer.start(dataDir: root + "/b", database: database, logger: .silent)
            await second.stop()
        }
    }

    @Test func aRunGoesToSuccessWithAgentOnOneReplicaAndAPIOnTheOther() async throws {
        try await withReplicas { system, _ in
            // Inputs, a secret (sealed by B, read by A), a file input (stored by B, downloaded
            // from A), an export (uploaded to A, listed by B) and a signed image link.
            try await AgentEndToEndTests().runToSuccess(system)
            try await expectNoSecretInDatabase(AgentEndToEndTests.secret)
        }
    }

    @Test func cancellingOnOneReplicaStopsTheRunOnTheOther() async throws {
        try await withReplicas { system, _ in try await AgentEndToEndTests().cancelRunning(system) }
    }

    @Test func computerCommandsReachAMachinePollingAnotherReplica() async throws {
        // Screenshot, mouse, keyboard, shell, files, the session rule, 400s and 503: every
        // command goes through the database to the machine polling the other replica.
        try await withReplicas(width: 1024, height: 768) { system, _ in
            try await AgentEndToEndTests().relayComputerActions(system)
        }
    }

    @Test func concurrentCallsSplitAcrossReplicasNeverSeeADatabaseError() async throws {
        try await withReplicas { system, replica in
            let workflowID = try await system.workflow("burst", steps: [["func_name": "wait", "args": [0.1]]])
            let bases = [system.server.url, replica.url]
            // Creations, cancellations, reads and pool churn, racing on both replicas.
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        var seen: [Int] = []
                        let base = bases[worker % 2]
                        for round in 0..<5 {
                            let created = try await Self.send(
                                system, base, .POST, "/v1/runs", ["workflow_id": .string(workflowID)])
                            seen.append(created.status)
                            let id = created.json["id"]?.stringValue ?? ""
                            let other = bases[(worker + round) % 2]
                            seen.append(
                                try await Self.send(system, other, .PATCH, "/v1/runs/\(id)", ["status": "cancelled"])
                                    .status)
                            seen.append(try await Self.send(system, other, .GET, "/v1/runs?limit=5", nil).status)
                            seen.append(
                                try await Self.send(
                                    system, base, .POST, "/v1/pools", ["name": .string("pool-\(round)")]
                                ).status)
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            let unexpected = statuses.filter { !(200..<300).contains($0) && $0 != 409 }
            #expect(unexpected.isEmpty, "statuses other than 2xx and 409 (pool name taken): \(unexpected)")
            // Each pool name was created once, whoever won; the other 15 attempts were 409s.
            #expect(statuses.filter { $0 == 409 }.count == 16 * 5 - 5)
        }
    }

    static func send(_ system: System, _ base: String, _ method: HTTPMethod, _ path: String, _ json: JSONValue?)
        async throws -> (status: Int, json: JSONObject)
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(system.adminKey)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.compactJSON))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = (try? JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)))?.objectValue ?? [:]
        return (Int(response.status.code), object)
    }

    /// The whole database, dumped as SQL, holds the secret in no readable form.
    func expectNoSecretInDatabase(_ secret: String) async throws {
        let url = try #require(PostgresTestServer.url)
        let dump = try await runProcess("pg_dump", ["--dbname=\(url)", "--data-only"])
        #expect(dump.status == 0, "pg_dump failed: \(dump.stderr)")
        let forms = [
            secret, Data(secret.utf8).base64EncodedString(),
            secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret,
        ]
        for form in forms {
            #expect(dump.stdout.range(of: Data(form.utf8)) == nil, "the secret (\(form)) is in the database")
        }
    }
}
