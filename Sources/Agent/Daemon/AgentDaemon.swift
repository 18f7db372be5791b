import CyberdeskAPI
import Desktop
import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon: connects, long-polls, executes the runs it is offered and the commands it is
/// sent, and reports. Transport errors are retried with full-jitter backoff; a refused
/// credential stops it with a clear status instead (the machine was deleted or revoked).
/// On graceful shutdown (SIGTERM) it takes no new work, lets the current step finish,
/// reports the run and returns.
public final class AgentDaemon: Service, Sendable {
    public struct Configuration: Sendable {
        public var executor: ExecutorConfiguration
        /// Seconds of healthy polling after which the backoff starts over.
        public var healthyAfter: Double
        public var backoffBase: Double
        public var backoffMaximum: Double

        public init(
            executor: ExecutorConfiguration, healthyAfter: Double = 10, backoffBase: Double = 1,
            backoffMaximum: Double = 60
        ) {
            self.executor = executor
            self.healthyAfter = healthyAfter
            self.backoffBase = backoffBase
            self.backoffMaximum = backoffMaximum
        }
    }

    let client: AgentClient
    let desktop: any Desktop
    let state: StateDirectory
    let configuration: Configuration
    let logger: Logger
    let onReady: @Sendable () -> Void
    let onStatus: @Sendable (String) -> Void

    struct Current: Sendable {
        var runID: String
        var lease: String
        var task: Task<RunOutcome, Never>?
    }

    private let stopping = Mutex(false)
    /// Commands already taken, so a redelivered command is not executed twice.
    private let seenCommands = Mutex<[String]>([])
    let current = Mutex<Current?>(nil)
    /// Set when the run should end after its current step (graceful shutdown).
    let stopAfterStep = Mutex(false)

    public init(
        client: AgentClient, desktop: any Desktop, state: StateDirectory, configuration: Configuration, logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}, onStatus: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.client = client
        self.desktop = desktop
        self.state = state
        self.configuration = configuration
        self.logger = logger
        self.onReady = onReady
        self.onStatus = onStatus
    }

    public func run() async throws {
        try? await desktop.releaseAllInputs()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await self.loop(group: &group)
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
            self.stopAfterStep.withLock { $0 = true }
        }
        try? await desktop.releaseAllInputs()
        if !(try state.credential() == nil) {
            try? await client.disconnect()
        }
        report("stopped", error: nil)
    }

    var isStopping: Bool { stopping.withLock { $0 } || Task.isCancelled }

    func report(_ state: String, error: String?) {
        let run = current.withLock { $0?.runID }
        self.state.setStatus(
            StateDirectory.Status(state: state, lastError: error, currentRun: run, connectionID: nil, updatedAt: Date())
        )
        onStatus(state + (error.map { ": " + $0 } ?? ""))
    }

    func loop(group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        var backoff = Backoff(base: configuration.backoffBase, maximum: configuration.backoffMaximum)
        var readySent = false
        var held = state.heldRun()
        while !isStopping {
            let connection: AgentConnectResponse
            do {
                let active = current.withLock { run in
                    run.map { HeldRun(runID: $0.runID, leaseToken: $0.lease, stepIndex: nil) }
                }
                connection = try await client.connect(
                    AgentConnectRequest(
                        version: AgentVersion.current, hostname: Host.name, display: try? await displaySize(),
                        heldRun: held, activeRun: active))
                if held != nil, current.withLock({ $0 == nil }) { try? state.setHeldRun(nil) }
                held = nil
            } catch {
                if try await handle(error, backoff: &backoff) { return }
                continue
            }
            logger.info("connected", metadata: ["connection.id": "\(connection.connectionID)"])
            report("connected", error: nil)
            if !readySent {
                onReady()
                readySent = true
            }
            var healthySince = ContinuousClock.now
            var acknowledge: [String] = []
            while !isStopping {
                let messages: [AgentMessage]
                do {
                    let acknowledged = acknowledge
                    messages = try await cancelWhenGracefulShutdown {
                        try await self.client.poll(
                            connectionID: connection.connectionID, wait: connection.pollWaitSeconds,
                            acknowledge: acknowledged, draining: false)
                    }
                } catch is CancellationError {
                    break
                } catch AgentClientError.conflict(let detail), AgentClientError.notFound(let detail) {
                    logger.warning("connection replaced; connecting again", metadata: ["reason": "\(detail)"])
                    break
                } catch {
                    if try await handle(error, backoff: &backoff) { return }
                    break
                }
                if ContinuousClock.now - healthySince > .seconds(configuration.healthyAfter) {
                    backoff.reset()
                    healthySince = ContinuousClock.now
                }
                acknowledge = []
                for message in messages {
                    switch message.type {
                    case .runOffer:
                        guard let runID = message.runID, current.withLock({ $0 == nil }), !isStopping else { continue }
                        startRun(runID: runID, attempt: message.attempt ?? 1, connection: connection, group: &group)
                    case .cancel:
                        acknowledge.append(message.id)
                        if let runID = message.runID { cancelRun(runID) }
                    case .command:
                        guard let command = message.command, firstSight(of: command.commandID) else { continue }
                        group.addTask { await self.perform(command) }
                    case .drain:
                        acknowledge.append(message.id)
                        stopping.withLock { $0 = true }
                    }
                }
            }
        }
    }

    /// Decides what a failed call means: returns true to stop the daemon for good.
    func handle(_ error: any Error, backoff: inout Backoff) async throws -> Bool {
        if let error = error as? AgentClientError, case .unauthorized(let detail) = error {
            logger.critical("machine credential refused; stopping", metadata: ["reason": "\(detail)"])
            report(
                "revoked",
                error: "the server refused this machine's credential (\(detail)); run 'cyberdesk-agent join' again")
            throw AgentError.revoked("the server refused this machine's credential: \(detail)")
        }
        if isStopping { return true }
        var retryAfter: Double?
        if case .unavailable(_, _, let after)? = error as? AgentClientError { retryAfter = after }
        let delay = backoff.next(retryAfter: retryAfter)
        logger.warning(
            "server unreachable; retrying",
            metadata: ["error": "\(error)", "retry_in_s": "\(String(format2: delay))"])
        report("reconnecting", error: "\(error)")
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
        } catch {
            return true
        }
        return false
    }

    func displaySize() async throws -> DisplaySize {
        let size = try await desktop.dimensions()
        return DisplaySize(width: size.width, height: size.height)
    }

    /// True the first time a command id is seen (the last 1,000 are remembered).
    func firstSight(of commandID: String) -> Bool {
        seenCommands.withLock { seen in
            if seen.contains(commandID) { return false }
            seen.append(commandID)
            if seen.count > 1000 { seen.removeFirst(seen.count - 1000) }
            return true
        }
    }

    func cancelRun(_ runID: String) {
        if let task = current.withLock({ $0?.runID == runID ? $0?.task : nil }) {
            logger.info("cancelling run", metadata: ["run.id": "\(runID)"])
            task.cancel()
        }
    }

    func perform(_ command: AgentCommand) async {
        let answer = await CommandRunner(
            desktop: desktop, files: CommandFilesAccess(configuration: configuration.executor)
        )
        .run(command)
        do {
            try await client.commandResult(
                commandID: command.commandID, status: answer.status, contentType: answer.contentType, body: answer.body)
        } catch {
            logger.warning(
                "command result not delivered", metadata: ["command.id": "\(command.commandID)", "error": "\(error)"])
        }
    }
}

extension String {
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        self = "\(hundredths / 100).\(String(hundredths % 100).leftPadded(2))"
    }
}

enum Host {
    static var name: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(cString: buffer)
    }
}
