import CyberdeskAPI
import FoundationEssentials
import Logging

extension AgentDaemon {
    /// Claims and executes one offered run in a task of its own (so a cancel can stop it),
    /// owned by the daemon's task group.
    func startRun(
        runID: String, attempt: Int, connection: AgentConnectResponse,
        group: inout ThrowingDiscardingTaskGroup<any Error>
    ) {
        // Taken before the claim, so the next poll (which offers the run again until it is
        // claimed) does not start a second execution.
        current.withLock { $0 = Current(runID: runID, lease: "", task: nil) }
        let task = Task { await self.execute(runID: runID, attempt: attempt, connection: connection) }
        group.addTask { await task.value }
    }

    func execute(runID: String, attempt: Int, connection: AgentConnectResponse) async {
        let claim: RunClaimResponse
        do {
            claim = try await client.claim(runID: runID, attempt: attempt)
        } catch {
            logger.warning("claim failed", metadata: ["run.id": "\(runID)", "error": "\(error)"])
            current.withLock { $0 = nil }
            return
        }
        current.withLock { $0?.lease = claim.leaseToken }
        defer { current.withLock { $0 = nil } }
        let lease = claim.leaseToken
        try? state.setHeldRun(HeldRun(runID: runID, leaseToken: lease, stepIndex: nil))
        var runLogger = self.logger
        runLogger[metadataKey: "run.id"] = "\(runID)"
        let logger = runLogger
        do {
            try await startRetryingTransientFailures(runID: runID, lease: lease)
        } catch {
            logger.warning("start refused; abandoning the run", metadata: ["error": "\(error)"])
            try? state.setHeldRun(nil)
            return
        }
        report("running", error: nil)
        let environment = ServerRunEnvironment(
            client: client, runID: runID, lease: lease, state: state, logger: logger)
        let executor = RunExecutor(
            desktop: desktop, environment: environment, configuration: configuration.executor, logger: logger)
        // The executor runs in its own task so a cancel (poll message or heartbeat) can stop
        // it; heartbeats renew the lease meanwhile.
        let stopFlag = StopFlag(daemon: self)
        let work = Task { await executor.execute(claim.run, shouldStop: { stopFlag.isSet }) }
        current.withLock { $0?.task = work }
        let heartbeatSeconds = connection.heartbeatSeconds
        let abandoned = await withTaskGroup(of: Bool.self) { group -> Bool in
            group.addTask { [self] in
                await heartbeats(
                    runID: runID, lease: lease, every: heartbeatSeconds, environment: environment, work: work,
                    logger: logger)
            }
            _ = await work.value
            group.cancelAll()
            return await group.next() ?? false
        }
        let outcome = await work.value
        if abandoned {
            logger.warning("run abandoned: another attempt owns it")
            try? state.setHeldRun(nil)
            report("connected", error: "run \(runID) was taken over")
            return
        }
        await complete(runID: runID, lease: lease, outcome: outcome, logger: logger)
        try? state.setHeldRun(nil)
        report("connected", error: nil)
    }

    /// Renews the lease every `every` seconds and brings cancellation; returns true when the
    /// server says the lease belongs to someone else (the run must be abandoned).
    func heartbeats(
        runID: String, lease: String, every seconds: Int, environment: ServerRunEnvironment,
        work: Task<RunOutcome, Never>, logger: Logger
    ) async -> Bool {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(max(1, seconds)))
            } catch {
                return false
            }
            do {
                let answer = try await client.heartbeat(runID: runID, lease: lease, stepIndex: environment.currentStep)
                if answer.cancelRequested {
                    logger.info("cancel requested")
                    work.cancel()
                }
            } catch AgentClientError.conflict {
                work.cancel()
                return true
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
        return false
    }

    /// `start` is idempotent under the same lease, so a transient failure (the server
    /// restarting, a network blip) is retried. Abandoning instead left a run the server had
    /// already marked `running` to end `error` ("agent restarted during step 0") when the
    /// agent reconnected, without a step executed.
    func startRetryingTransientFailures(runID: String, lease: String) async throws {
        var backoff = Backoff(base: 0.5, maximum: 10)
        var attempt = 0
        while true {
            do {
                try await client.start(runID: runID, lease: lease)
                return
            } catch let error as AgentClientError where error.isTransient && attempt < 20 && !isStopping {
                attempt += 1
                logger.warning("start not delivered; retrying", metadata: ["run.id": "\(runID)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(Int64(backoff.next() * 1000)))
            }
        }
    }

    /// Reports the outcome, retrying transient failures: completion is idempotent.
    func complete(runID: String, lease: String, outcome: RunOutcome, logger: Logger) async {
        let request = RunCompleteRequest(
            leaseToken: lease, status: outcome.status, outputData: outcome.outputData,
            error: outcome.errors.isEmpty ? nil : outcome.errors)
        var backoff = Backoff(base: 0.5, maximum: 10)
        for _ in 0..<20 {
            do {
                try await client.complete(runID: runID, request: request)
                logger.info("run completed", metadata: ["run.status": "\(outcome.status.rawValue)"])
                return
            } catch let error as AgentClientError where error.isTransient {
                try? await Task.sleep(for: .milliseconds(Int64(backoff.next() * 1000)))
            } catch {
                logger.error("completion refused", metadata: ["error": "\(error)"])
                return
            }
        }
        logger.error("completion not delivered; the server will mark the run lost")
    }
}

/// Reads the daemon's "stop after this step" flag (set on graceful shutdown) from the
/// executor's task.
struct StopFlag: Sendable {
    let daemon: AgentDaemon
    var isSet: Bool { daemon.stopAfterStep.withLock { $0 } }
}
