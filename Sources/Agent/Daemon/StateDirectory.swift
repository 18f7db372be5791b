import CyberdeskAPI
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The agent's state on disk (mode 0700 directory, 0600 files):
/// - `fingerprint`: this machine's UUID, made once; a damaged file is an error, never a
///   silent new machine (`reset-identity` is the only way to get a new one);
/// - `credential.json`: server URL, machine id and machine token;
/// - `current-run.json`: the run being executed and its lease, so a restarted agent can
///   report it;
/// - `status.json`: what `cyberdesk-agent status` shows.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// `$XDG_STATE_HOME/cyberdesk-agent` (`~/.local/state/...`), or `/var/lib/cyberdesk-agent` as root.
    public static func defaultPath(environment: [String: String]) -> String {
        if getuid() == 0 { return "/var/lib/cyberdesk-agent" }
        let base = environment["XDG_STATE_HOME"] ?? ((environment["HOME"] ?? ".") + "/.local/state")
        return base + "/cyberdesk-agent"
    }

    public struct Credential: Codable, Sendable, Equatable {
        public var server: String
        public var machineID: String
        public var machineToken: String

        public init(server: String, machineID: String, machineToken: String) {
            self.server = server
            self.machineID = machineID
            self.machineToken = machineToken
        }

        enum CodingKeys: String, CodingKey {
            case server
            case machineID = "machine_id"
            case machineToken = "machine_token"
        }
    }

    public struct Status: Codable, Sendable, Equatable {
        public var state: String
        public var lastError: String?
        public var currentRun: String?
        public var connectionID: String?
        public var updatedAt: Date

        public init(state: String, lastError: String?, currentRun: String?, connectionID: String?, updatedAt: Date) {
            self.state = state
            self.lastError = lastError
            self.currentRun = currentRun
            self.connectionID = connectionID
            self.updatedAt = updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case state
            case lastError = "last_error"
            case currentRun = "current_run"
            case connectionID = "connection_id"
            case updatedAt = "updated_at"
        }
    }

    var fingerprintPath: String { path + "/fingerprint" }
    var credentialPath: String { path + "/credential.json" }
    var currentRunPath: String { path + "/current-run.json" }
    var statusPath: String { path + "/status.json" }

    public func create() throws {
        try AgentFiles.makeDirectory(path)
    }

    /// The machine's fingerprint, made on first use.
    public func fingerprint() throws -> String {
        if let bytes = try AgentFiles.read(fingerprintPath) {
            let text = String(String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace })
            guard let uuid = UUID(uuidString: text) else {
                throw AgentError.state(
                    "\(fingerprintPath) is damaged (not a UUID); restore it, or run 'cyberdesk-agent reset-identity' to register as a new machine"
                )
            }
            return uuid.uuidString.lowercased()
        }
        try create()
        let fingerprint = UUID().uuidString.lowercased()
        try AgentFiles.write(Array((fingerprint + "\n").utf8), to: fingerprintPath)
        return fingerprint
    }

    public func credential() throws -> Credential? {
        guard let bytes = try AgentFiles.read(credentialPath) else { return nil }
        do {
            return try APIJSON.decoder().decode(Credential.self, from: Data(bytes))
        } catch {
            throw AgentError.state("\(credentialPath) is damaged; run 'cyberdesk-agent join' again")
        }
    }

    public func save(_ credential: Credential) throws {
        try create()
        try AgentFiles.write(Array(try APIJSON.encoder().encode(credential)), to: credentialPath)
    }

    public func heldRun() -> HeldRun? {
        guard let bytes = try? AgentFiles.read(currentRunPath) else { return nil }
        return try? APIJSON.decoder().decode(HeldRun.self, from: Data(bytes))
    }

    public func setHeldRun(_ run: HeldRun?) throws {
        if let run {
            try AgentFiles.write(Array(try APIJSON.encoder().encode(run)), to: currentRunPath)
        } else {
            AgentFiles.remove(currentRunPath)
        }
    }

    public func status() -> Status? {
        guard let bytes = try? AgentFiles.read(statusPath) else { return nil }
        return try? APIJSON.decoder().decode(Status.self, from: Data(bytes))
    }

    public func setStatus(_ status: Status) {
        guard let data = try? APIJSON.encoder().encode(status) else { return }
        try? AgentFiles.write(Array(data), to: statusPath)
    }

    /// Forgets the machine: fingerprint, credential, run record and status.
    public func resetIdentity() {
        for file in [fingerprintPath, credentialPath, currentRunPath, statusPath] { AgentFiles.remove(file) }
    }
}

/// Errors of the agent's own making, phrased for the person running it.
public enum AgentError: Error, CustomStringConvertible, Equatable {
    case state(String)
    case configuration(String)
    case revoked(String)

    public var description: String {
        switch self {
        case .state(let message), .configuration(let message), .revoked(let message): message
        }
    }
}

/// The daemon's small files (state, config, secrets given in files): 0600 files written
/// whole through a temporary file and a rename. A thin face on the executor's
/// `FileSystem`, which has the POSIX calls.
public enum AgentFiles {
    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        do {
            return try FileSystem.read(path, limit: 16 << 20)
        } catch .system(_, _, let code) where code == ENOENT {
            return nil
        } catch {
            throw AgentError.state(error.description)
        }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try FileSystem.writeAtomically(bytes, to: path, mode: 0o600)
        } catch {
            throw AgentError.state(error.description)
        }
    }

    public static func makeDirectory(_ path: String) throws {
        do {
            try FileSystem.createDirectories(path, mode: 0o700)
        } catch {
            throw AgentError.state(error.description)
        }
    }

    public static func remove(_ path: String) { try? FileSystem.remove(path) }
}
