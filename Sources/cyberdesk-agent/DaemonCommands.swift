import Agent
import ArgumentParser
import CyberdeskAPI
import Desktop
import Foundation
import Logging
import ServiceLifecycle

/// Options shared by the daemon's commands; each mirrors a `CYBERDESK_*` variable and a
/// config-file key.
struct AgentOptions: ParsableArguments {
    @Option(help: "State directory (default: $XDG_STATE_HOME/cyberdesk-agent, /var/lib/cyberdesk-agent as root).")
    var stateDir: String?

    @Option(
        help:
            "Config file with 'key = value' lines (server, state_dir, log_level, display, transfers_dir, export_roots, name, pools). Default: $CYBERDESK_CONFIG, else /etc/cyberdesk/agent.conf when it exists."
    )
    var config: String?

    /// The packages' conffile; read when present so `join`, `status` and the units agree
    /// without repeating `--config`.
    static let systemConfigFile = "/etc/cyberdesk/agent.conf"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func settings(extra: [String: String] = [:]) throws -> AgentSettings {
        var flags = extra
        flags["state_dir"] = stateDir
        flags["config"] = config
        flags["log_level"] = logLevel
        do {
            return try AgentSettings.resolve(
                flags: flags, environment: ProcessInfo.processInfo.environment,
                configFile: FileManager.default.fileExists(atPath: Self.systemConfigFile) ? Self.systemConfigFile : nil)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Reads a secret from a file, or from stdin for "-"; never from the command line.
func readSecret(_ path: String, what: String) throws -> String {
    let bytes: [UInt8]
    if path == "-" {
        bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
    } else {
        guard let data = try AgentFiles.read(path) else { throw ValidationError("\(what) file \(path) does not exist") }
        bytes = data
    }
    let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
    guard !text.isEmpty else { throw ValidationError("\(what) file \(path) is empty") }
    return text
}

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register this machine with a control plane and store its credential.")

    @OptionGroup var options: AgentOptions
    @Option(help: "The control plane's URL, e.g. http://10.0.0.5:8080.") var server: String?
    @Option(help: "File with an organization API key ('-' for stdin).") var apiKeyFile: String?
    @Option(help: "File with a one-time registration token ('-' for stdin).") var tokenFile: String?
    @Option(help: "Machine name shown in the API (default: the hostname).") var name: String?
    @Option(help: "Pool to join (repeatable); created if missing.") var pool: [String] = []
    @Option(name: .customLong("display"), help: "X display to read the screen size from (default: $DISPLAY).")
    var display: String?

    func run() async throws {
        var extra: [String: String] = [:]
        extra["server"] = server
        extra["name"] = name
        let settings = try options.settings(extra: extra)
        guard let server = settings.server else {
            throw ValidationError("give --server URL (or CYBERDESK_SERVER, or 'server =' in the config file)")
        }
        let secret: String
        switch (apiKeyFile, tokenFile) {
        case (let file?, nil): secret = try readSecret(file, what: "API key")
        case (nil, let file?): secret = try readSecret(file, what: "registration token")
        default: throw ValidationError("give exactly one of --api-key-file and --token-file")
        }
        let state = StateDirectory(path: settings.stateDir)
        let fingerprint = try state.fingerprint()
        var size: DisplaySize?
        if let desktop = try? await X11Desktop(.init(displayName: display ?? settings.display)) {
            if let dimensions = try? await desktop.dimensions() {
                size = DisplaySize(width: dimensions.width, height: dimensions.height)
            }
            await desktop.close(releasingHeldInput: false)
        }
        let client = AgentClient(server: server, credential: secret)
        let hostname = ProcessInfo.processInfo.hostName
        let answer: AgentRegisterResponse
        do {
            answer = try await client.register(
                AgentRegisterRequest(
                    fingerprint: fingerprint, name: settings.name, hostname: hostname,
                    osInfo: ProcessInfo.processInfo.operatingSystemVersionString, version: AgentVersion.current,
                    display: size, pools: pool + settings.pools))
        } catch {
            printError("cyberdesk-agent: join failed: \(error)")
            throw ExitCode.failure
        }
        try state.save(.init(server: client.server, machineID: answer.machineID, machineToken: answer.machineToken))
        try printJSON(JoinResult(machineId: answer.machineID, server: client.server, stateDir: state.path))
    }

    struct JoinResult: Encodable {
        var machineId: String
        var server: String
        var stateDir: String
    }
}

struct RunDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon: take runs and commands from the control plane.")

    @OptionGroup var options: AgentOptions
    @Flag(help: "Readable coloured logs on a terminal (the default when stderr is not the journal).")
    var foreground = false
    @Option(name: .customLong("display"), help: "X display (default: $DISPLAY).") var display: String?

    /// Exit status when the server refuses the credential: systemd units list it in
    /// `RestartPreventExitStatus`, so a revoked machine is not restarted in a loop.
    static let revokedExitCode: Int32 = 78

    func run() async throws {
        let settings = try options.settings()
        let logger = AgentLogging.bootstrap(level: settings.logLevel, foreground: foreground)
        let state = StateDirectory(path: settings.stateDir)
        guard let credential = try state.credential() else {
            logger.critical("this machine has not joined a control plane", metadata: ["state_dir": "\(state.path)"])
            printError("cyberdesk-agent: not joined; run 'cyberdesk-agent join --server URL --api-key-file FILE' first")
            throw ExitCode.failure
        }
        let desktop: X11Desktop
        do {
            desktop = try await X11Desktop(
                .init(displayName: display ?? settings.display, releaseHeldInputAtStart: true))
        } catch {
            logger.critical("cannot open the display", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let executor = ExecutorConfiguration(
            homeDirectory: home, transfersDirectory: settings.transfersDir, extraExportRoots: settings.exportRoots)
        let notifier = AgentLogging.notifier(logger: logger)
        let daemon = AgentDaemon(
            client: AgentClient(server: credential.server, credential: credential.machineToken), desktop: desktop,
            state: state, configuration: .init(executor: executor), logger: logger,
            onReady: { notifier.ready() }, onStatus: { notifier.status($0) })
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)
        ]
        if let watchdog = notifier.watchdog() {
            services.append(.init(service: watchdog, successTerminationBehavior: .ignore))
        }
        if let stopping = notifier.stoppingService() {
            services.append(.init(service: stopping, successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
            await desktop.close(releasingHeldInput: true)
        } catch let error as AgentError {
            notifier.stopping()
            await desktop.close(releasingHeldInput: true)
            if case .revoked = error { throw ExitCode(Self.revokedExitCode) }
            throw ExitCode.failure
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show this machine's identity, server, connection state, last error and current run.")
    @OptionGroup var options: AgentOptions

    func run() async throws {
        let settings = try options.settings()
        let state = StateDirectory(path: settings.stateDir)
        let credential = try state.credential()
        let status = state.status()
        try printJSON(
            StatusReport(
                stateDir: state.path, joined: credential != nil, server: credential?.server,
                machineId: credential?.machineID, state: status?.state ?? "not running",
                lastError: status?.lastError, currentRun: state.heldRun()?.runID ?? status?.currentRun,
                updatedAt: status.map { APIJSON.formatTimestamp($0.updatedAt) }))
        if credential == nil { throw ExitCode.failure }
    }

    struct StatusReport: Encodable {
        var stateDir: String
        var joined: Bool
        var server: String?
        var machineId: String?
        var state: String
        var lastError: String?
        var currentRun: String?
        var updatedAt: String?
    }
}

struct ResetIdentity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget this machine's fingerprint and credential (for cloned golden images).")
    @OptionGroup var options: AgentOptions

    func run() async throws {
        let settings = try options.settings()
        StateDirectory(path: settings.stateDir).resetIdentity()
        try printJSON(Done())
    }
}
