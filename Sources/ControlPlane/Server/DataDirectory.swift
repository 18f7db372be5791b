import FoundationEssentials
import Logging

/// The server's state on disk: the database (unless PostgreSQL is used), attachment blobs,
/// and the key files. Every subcommand opens the store the same way, so `keys create`
/// works beside a running server.
public struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var databasePath: String { path + "/cyberdesk.sqlite" }
    public var blobsPath: String { path + "/blobs" }
    public var vaultKeyPath: String { path + "/vault.key" }
    public var signingKeyPath: String { path + "/url-signing.key" }
    public var adminKeyPath: String { path + "/admin-api-key" }

    /// Opens the store named by `database` (`sqlite:PATH`, or nil for the data dir's SQLite
    /// file) and brings its schema up to date.
    public func openStore(database: String?, logger: Logger) async throws -> any Store {
        try SecretFile.makeDirectory(path)
        let engine: any SQLDatabase
        switch database {
        case nil, "":
            engine = try await openSQLite(databasePath, logger: logger)
        case let url? where url.hasPrefix("sqlite:"):
            engine = try await openSQLite(
                String(url.dropFirst("sqlite:".count)).replacing("//", with: "/"), logger: logger)
        case let url? where url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"):
            engine = try await PostgresDatabase(url: url, logger: logger)
        case let url?:
            throw StoreError.unavailable(
                "unknown --database '\(PostgresURL.redacted(url))'; use sqlite:PATH or postgres://USER:PASSWORD@HOST/DB")
        }
        let store = SQLStore(database: engine)
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return store
    }

    private func openSQLite(_ sqlitePath: String, logger: Logger) async throws -> SQLiteDatabase {
        // SQLite creates its files with the process umask (0644 as a rule) and gives the WAL
        // and shared-memory files the database file's mode: a database file made 0600 first
        // keeps all three private, also in a data dir someone created 0755 beforehand.
        try SecretFile.makePrivate(sqlitePath)
        try SecretFile.tighten(sqlitePath + "-wal")
        try SecretFile.tighten(sqlitePath + "-shm")
        return try await SQLiteDatabase(path: sqlitePath, logger: logger)
    }

    /// Everything `serve` needs, built from the data directory.
    public func controlPlane(
        store: any Store, limits: ControlPlane.Limits = .init(), publicURL: String?,
        agentTiming: ControlPlane.AgentTiming = .init(), logger: Logger
    ) throws -> ControlPlane {
        // Replicas on one database judge leases by its clock, not their own.
        let clock: DatabaseClock? = store.cluster == nil ? nil : DatabaseClock()
        var now: @Sendable () -> Date = { Date() }
        if let clock { now = { clock.now() } }
        return ControlPlane(
            store: store, blobs: try blobStore(for: store),
            vault: try Vault.loadOrCreate(keyFile: vaultKeyPath),
            signer: try URLSigner.loadOrCreate(keyFile: signingKeyPath), limits: limits, publicURL: publicURL,
            agentTiming: agentTiming, logger: logger, now: now, databaseClock: clock)
    }

    /// Where attachments live: in the database when it is PostgreSQL (so every replica reads
    /// them), as files under `blobs/` with the embedded store.
    public func blobStore(for store: any Store) throws -> any BlobStore {
        if let sql = store as? SQLStore, sql.database is PostgresDatabase {
            return DatabaseBlobStore(database: sql.database)
        }
        return try FileBlobStore(directory: blobsPath)
    }

    /// Makes sure this data directory's vault and URL-signing keys are the ones the database's
    /// data was made with (the first server to start records their ids). A replica started
    /// without copies of the first one's key files would otherwise seal secrets no other
    /// replica can open, and sign links the others refuse.
    public func checkKeys(store: any Store) async throws {
        let keys = [
            ("vault_key_id", try Vault.loadOrCreate(keyFile: vaultKeyPath).keyID, vaultKeyPath),
            ("url_signing_key_id", try URLSigner.loadOrCreate(keyFile: signingKeyPath).keyID, signingKeyPath),
        ]
        for (name, id, file) in keys {
            let recorded = try await store.transaction { try await $0.claimSetting(name, value: id) }
            guard recorded == id else {
                throw StoreError.unavailable(
                    "\(file) is not the key this database's data was made with; copy it (and the other key file) "
                        + "from the data directory of a server that already uses this database")
            }
        }
    }

    /// On first start: an organization and an admin key, written to `admin-api-key` (0600).
    /// Returns the key when it was just made, so the caller prints it once.
    public func bootstrap(store: any Store) async throws -> String? {
        try await checkKeys(store: store)
        let organizations = try await store.transaction { try await $0.organizationCount() }
        guard organizations == 0 else { return nil }
        let (_, key) = try await KeyAdmin(store: store).createKey(organization: "default", name: "admin")
        try SecretFile.write(Array((key + "\n").utf8), to: adminKeyPath)
        return key
    }
}

/// Organizations, API keys and registration tokens, for the CLI and first start.
public struct KeyAdmin: Sendable {
    let store: any Store
    let now: @Sendable () -> Date

    public init(store: any Store, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.now = now
    }

    /// Creates a key in the organization, creating the organization if it is new.
    public func createKey(organization name: String, name keyName: String) async throws -> (APIKeyRecord, String) {
        let secret = Credentials.generate(prefix: "cdk_")
        let time = now()
        let record = try await store.transaction { tx in
            var organization = try await tx.organization(named: name)
            if organization == nil {
                let created = Organization(id: UUIDText.new(), name: name, createdAt: time)
                try await tx.insertOrganization(created)
                organization = created
            }
            let record = APIKeyRecord(
                id: UUIDText.new(), organizationID: organization!.id, name: keyName,
                prefix: Credentials.displayPrefix(secret), hash: Credentials.hash(secret), createdAt: time)
            try await tx.insertAPIKey(record)
            return record
        }
        return (record, secret)
    }

    public struct KeyListing: Sendable {
        public var key: APIKeyRecord
        public var organizationName: String
    }

    public func listKeys() async throws -> [KeyListing] {
        try await store.transaction { tx in
            var listings: [KeyListing] = []
            for key in try await tx.apiKeys() {
                let organization = try await tx.organization(id: key.organizationID)
                listings.append(KeyListing(key: key, organizationName: organization?.name ?? key.organizationID))
            }
            return listings
        }
    }

    /// Revokes the key with this id or display prefix. Revocation takes effect on the next
    /// request: keys are checked against the store every time.
    public func revokeKey(_ idOrPrefix: String) async throws -> APIKeyRecord {
        let time = now()
        return try await store.transaction { tx in
            let matches = try await tx.apiKeys().filter { $0.id == idOrPrefix || $0.prefix == idOrPrefix }
            guard matches.count == 1, var key = matches.first else {
                throw ControlPlaneError.notFound(
                    matches.isEmpty
                        ? "no API key with id or prefix '\(idOrPrefix)'; see 'cyberdesk-server keys list'"
                        : "'\(idOrPrefix)' matches \(matches.count) keys; use the key id")
            }
            if key.revokedAt == nil {
                key.revokedAt = time
                try await tx.saveAPIKey(key)
            }
            return key
        }
    }

    /// A one-time machine registration token for the organization.
    public func createToken(organization name: String, pools: [String], ttl: Double) async throws -> (
        RegistrationTokenRecord, String
    ) {
        let secret = Credentials.generate(prefix: "cdt_")
        let time = now()
        let record = try await store.transaction { tx in
            guard let organization = try await tx.organization(named: name) else {
                throw ControlPlaneError.notFound(
                    "no organization named '\(name)'; create it with 'cyberdesk-server keys create --org \(name)'")
            }
            let record = RegistrationTokenRecord(
                id: UUIDText.new(), organizationID: organization.id, hash: Credentials.hash(secret), poolNames: pools,
                expiresAt: time.addingTimeInterval(ttl), createdAt: time)
            try await tx.insertRegistrationToken(record)
            return record
        }
        return (record, secret)
    }
}
