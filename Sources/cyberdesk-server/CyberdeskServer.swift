import ArgumentParser
import ControlPlane
import Dashboard
import CyberdeskRelease
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import SystemdSupport

@main
struct CyberdeskServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cyberdesk-server",
        abstract: "A self-hostable Cyberdesk control plane that speaks the Cyberdesk v1 API.",
        version: CyberdeskVersion.current,
        subcommands: [Serve.self, Keys.self, Tokens.self, Migrate.self],
        defaultSubcommand: Serve.self)
}

/// Where the store lives; shared by every subcommand.
struct StoreOptions: ParsableArguments {
    @Option(help: "Directory for the database, attachment blobs and key files.")
    var dataDir: String = ProcessInfo.processInfo.environment["CYBERDESK_DATA_DIR"] ?? defaultDataDir()

    @Option(
        help:
            "sqlite:PATH (default: the data directory's SQLite file) or postgres://USER:PASSWORD@HOST:PORT/DB[?sslmode=disable|prefer|require]; several servers may share one PostgreSQL database."
    )
    var database: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = ProcessInfo.processInfo.environment["CYBERDESK_LOG_LEVEL"] ?? "info"

    static func defaultDataDir() -> String {
        if getuid() == 0 { return "/var/lib/cyberdesk-server" }
        let base =
            ProcessInfo.processInfo.environment["XDG_DATA_HOME"]
            ?? ((ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.local/share")
        return base + "/cyberdesk-server"
    }

    var directory: DataDirectory { DataDirectory(path: dataDir) }

    func logger() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown --log-level '\(logLevel)'")
        }
        var logger = Logger(label: "cyberdesk-server")
        logger.logLevel = level
        return logger
    }

    func openStore() async throws -> any Store {
        try await directory.openStore(
            database: database ?? ProcessInfo.processInfo.environment["CYBERDESK_DATABASE"], logger: logger())
    }
}

/// One bootstrap per process: `<N>` lines when stderr is the journal, coloured lines on a
/// terminal, plain lines otherwise. Files the server creates (database, blobs, keys) are
/// private to its user.
func bootstrapLogging(level: String = "info") {
    umask(0o077)
    StandardErrorLogHandler.bootstrap(label: "cyberdesk-server", level: Logger.Level(rawValue: level) ?? .info)
}

/// Writes the port whole and renames it into place, so a reader never sees a partial number.
func writePortFile(_ path: String, _ port: Int) {
    let temporary = path + ".tmp"
    FileManager.default.createFile(atPath: temporary, contents: Data("\(port)\n".utf8))
    _ = rename(temporary, path)
}

/// Prints to stdout at once, so a parent process reading the pipe sees the line.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the control plane.")

    @OptionGroup var store: StoreOptions

    // host, port and public URL also come from CYBERDESK_HOST, CYBERDESK_PORT and
    // CYBERDESK_PUBLIC_URL (a flag wins): the packaged unit reads them from
    // /etc/cyberdesk/server.conf through EnvironmentFile=.
    @Option(help: "Address to listen on (default: $CYBERDESK_HOST, or 127.0.0.1).")
    var host: String = ProcessInfo.processInfo.environment["CYBERDESK_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one (default: $CYBERDESK_PORT, or 8080).")
    var port: Int?

    @Option(
        help:
            "The URL clients reach this server at, for signed download links (default: $CYBERDESK_PUBLIC_URL, or the request's Host)."
    )
    var publicURL: String?

    @Option(help: "Largest request body in MiB, on the routes where files travel (others take 1 MiB; docs/LIMITS.md).")
    var maxBodyMb: Int = 100

    @Option(help: "Largest file input or attachment in MiB.")
    var maxFileMb: Int = 50

    @Option(help: "Write the bound port to this file once listening (useful with --port 0).")
    var portFile: String?

    @Option(help: "Port of the operators' dashboard (default: --port + 1, or a free one with --port 0).")
    var dashboardPort: Int?

    @Flag(help: "Serve no dashboard, only the API.")
    var noDashboard = false

    @Option(help: "Write the dashboard's bound port to this file once listening.")
    var dashboardPortFile: String?

    @Option(help: "The URL browsers reach the dashboard at; https:// makes its session cookie Secure.")
    var dashboardURL: String?

    @Option(help: "Minutes a dashboard session may sit unused before it signs out.")
    var dashboardIdleMinutes: Double = 480

    // The agent protocol's clocks (docs/AGENT-PROTOCOL.md), hidden: the defaults are the
    // product's; tests shorten them so leases lapse and polls end in seconds.
    @Option(help: .hidden) var agentPollWait: Int = ControlPlane.AgentTiming().pollWait
    @Option(help: .hidden) var agentLease: Int = ControlPlane.AgentTiming().lease
    @Option(help: .hidden) var agentHeartbeat: Int = ControlPlane.AgentTiming().heartbeat
    @Option(help: .hidden) var agentOfferTimeout: Double = ControlPlane.AgentTiming().offerTimeout
    @Option(help: .hidden) var agentLostGrace: Double = ControlPlane.AgentTiming().lostGrace
    @Option(help: .hidden) var leaseSweepMs: Int = 1000

    /// `--port`, else CYBERDESK_PORT, else 8080; a malformed variable is an error, not 8080.
    func listeningPort() throws -> Int {
        if let port { return port }
        guard let text = ProcessInfo.processInfo.environment["CYBERDESK_PORT"], !text.isEmpty else { return 8080 }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw ValidationError("CYBERDESK_PORT='\(text)' is not a port number (0-65535)")
        }
        return port
    }

    /// CYBERDESK_PUBLIC_URL when set and not empty.
    var environmentPublicURL: String? {
        ProcessInfo.processInfo.environment["CYBERDESK_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func run() async throws {
        let port = try listeningPort()
        bootstrapLogging(level: store.logLevel)
        let logger = try store.logger()
        let notifier: SystemdNotifier?
        do {
            notifier = try SystemdNotifier()
        } catch {
            logger.warning("systemd notifications disabled", metadata: ["error": "\(error)"])
            notifier = nil
        }
        let database = try await store.openStore()
        let directory = store.directory
        if let key = try await directory.bootstrap(store: database) {
            say(
                "Created organization 'default' with an admin API key (shown once, also saved to \(directory.adminKeyPath)):"
            )
            say("  \(key)")
        }
        let app = try directory.controlPlane(
            store: database, limits: .init(maxBodyBytes: maxBodyMb << 20, maxFileBytes: maxFileMb << 20),
            publicURL: publicURL ?? environmentPublicURL,
            agentTiming: .init(
                pollWait: agentPollWait, lease: agentLease, heartbeat: agentHeartbeat,
                offerTimeout: agentOfferTimeout, lostGrace: agentLostGrace),
            logger: logger)
        let host = self.host
        let portFile = self.portFile
        let application = buildApplication(app, host: host, port: port) { port in
            if let portFile { writePortFile(portFile, port) }
            say("cyberdesk-server listening on http://\(host):\(port)")
            _ = try? notifier?.ready(status: "listening on \(host):\(port)")
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: application, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(
                service: Sweeper(store: database, blobs: app.blobs, logger: logger), successTerminationBehavior: .ignore
            ),
            .init(
                service: LeaseSweeper(app: app, interval: .milliseconds(max(50, leaseSweepMs))),
                successTerminationBehavior: .ignore),
            // Replicas on one PostgreSQL database: notifications, fallback poll, clock.
            .init(service: ClusterService(app: app), successTerminationBehavior: .ignore),
        ]
        if !noDashboard {
            let dashboardPort = self.dashboardPort ?? (port == 0 ? 0 : port + 1)
            guard dashboardIdleMinutes > 0 else { throw ValidationError("--dashboard-idle-minutes must be positive") }
            let dashboard = try Dashboard(
                app: app, publicURL: dashboardURL, idleTimeout: dashboardIdleMinutes * 60)
            let dashboardPortFile = self.dashboardPortFile
            let dashboardApplication = buildDashboardApplication(dashboard, host: host, port: dashboardPort) { port in
                if let dashboardPortFile { writePortFile(dashboardPortFile, port) }
                say("cyberdesk-server dashboard on http://\(host):\(port)")
            }
            services.append(.init(service: dashboardApplication, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        if let notifier, notifier.watchdogInterval != nil {
            services.append(
                .init(service: WatchdogService(notifier: notifier, logger: logger), successTerminationBehavior: .ignore)
            )
        }
        if let notifier, notifier.isEnabled {
            services.append(
                .init(
                    service: StoppingNotificationService(notifier: notifier, logger: logger),
                    successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            try? await database.close()
            throw error
        }
        try await database.close()
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key (and the organization, if new); prints the key once.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Organization name.") var org: String = "default"
        @Option(help: "A name to recognise the key by.") var name: String = "api"

        func run() async throws {
            bootstrapLogging()
            let database = try await store.openStore()
            let (_, key) = try await KeyAdmin(store: database).createKey(organization: org, name: name)
            try await database.close()
            say(key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (never the keys themselves).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            bootstrapLogging()
            let database = try await store.openStore()
            let keys = try await KeyAdmin(store: database).listKeys()
            try await database.close()
            say("ID                                    ORGANIZATION      NAME              PREFIX       STATE")
            for listing in keys {
                func pad(_ text: String, _ width: Int) -> String {
                    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
                }
                say(
                    pad(listing.key.id, 38) + pad(listing.organizationName, 18) + pad(listing.key.name, 18)
                        + pad(listing.key.prefix, 13) + (listing.key.revokedAt == nil ? "active" : "revoked"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key by id or prefix.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id or prefix, as 'keys list' shows.") var key: String

        func run() async throws {
            bootstrapLogging()
            let database = try await store.openStore()
            do {
                let revoked = try await KeyAdmin(store: database).revokeKey(key)
                try await database.close()
                say("revoked \(revoked.id) (\(revoked.prefix)…)")
            } catch let error as ControlPlaneError {
                try await database.close()
                throw ValidationError(error.description)
            }
        }
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage one-time machine registration tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a one-time registration token for 'cyberdesk-agent join'; prints it once.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Organization name.") var org: String = "default"
        @Option(help: "Pool the machine joins (repeatable).") var pool: [String] = []
        @Option(help: "Seconds until the token expires.") var ttl: Double = 3600

        func run() async throws {
            bootstrapLogging()
            guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
            let database = try await store.openStore()
            do {
                let (_, token) = try await KeyAdmin(store: database).createToken(
                    organization: org, pools: pool, ttl: ttl)
                try await database.close()
                say(token)
            } catch let error as ControlPlaneError {
                try await database.close()
                throw ValidationError(error.description)
            }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        bootstrapLogging()
        let database = try await store.openStore()
        try await database.close()
        say("database schema is up to date")
    }
}
