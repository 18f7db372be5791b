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

/// File helpers: 0600 files written whole through a temporary file and a rename.
public enum AgentFiles {
    public static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw AgentError.state("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw AgentError.state("cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
        }
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AgentError.state("cannot write \(path): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            if written < 0 {
                close(fd)
                unlink(temporary)
                throw AgentError.state("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentError.state("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0, errno != EEXIST {
                throw AgentError.state("cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    public static func remove(_ path: String) { unlink(path) }
}
