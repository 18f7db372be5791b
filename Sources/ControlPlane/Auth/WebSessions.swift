import Crypto
import FoundationEssentials

/// A dashboard sign-in as stored: `id` is the SHA-256 of the random id the cookie carries,
/// `keyHash` the SHA-256 of the API key it was made with. Neither secret is kept.
public struct WebSessionRecord: StoredRecord, Hashable {
    public static let table = "web_sessions"
    public var id: String
    public var organizationID: String
    public var keyHash: String
    public var keyPrefix: String
    public var lastUsed: Date
    public var createdAt: Date

    public var columns: [(String, SQLValue)] {
        [("key_hash", .text(keyHash)), ("last_used", .date(lastUsed)), ("created_at", .date(createdAt))]
    }
}

/// A signed-in dashboard session, as a page sees it.
public struct WebSession: Sendable {
    public var organizationID: String
    public var organizationName: String
    /// The display prefix of the key used to sign in (never the key).
    public var keyPrefix: String
    /// The token every state-changing form must carry: an HMAC of a fixed label under the
    /// cookie's secret, so it needs no storage and differs per session.
    public var csrfToken: String
}

/// Dashboard sessions, API keys and registration tokens for a signed-in organization. The
/// rules of API keys are the CLI's (`KeyAdmin`): secrets shown once, stored as SHA-256.
public struct WebSessions: Sendable {
    let store: any Store
    let now: @Sendable () -> Date
    /// A session unused for this long is signed out.
    public let idleTimeout: Double

    /// Writes of `last_used` are skipped when the stored one is this recent.
    static let touchInterval: Double = 30

    public init(app: ControlPlane, idleTimeout: Double = 8 * 3600) {
        store = app.store
        now = app.now
        self.idleTimeout = idleTimeout
    }

    /// A new session for a valid, unrevoked API key; returns the cookie's secret, or nil
    /// when the key is unknown or revoked.
    public func signIn(apiKey: String) async throws -> String? {
        let keyHash = Credentials.hash(apiKey.trimmingCharacters(in: .whitespacesAndNewlines))
        let secret = Credentials.generate(prefix: "cds_")
        let time = now()
        return try await store.transaction { tx -> String? in
            guard let key = try await tx.apiKey(hash: keyHash), key.revokedAt == nil else { return nil }
            try await tx.insert(
                WebSessionRecord(
                    id: Credentials.hash(secret), organizationID: key.organizationID, keyHash: keyHash,
                    keyPrefix: key.prefix, lastUsed: time, createdAt: time))
            return secret
        }
    }

    /// The session the cookie's secret names, or nil when there is none, it sat idle past
    /// `idleTimeout`, or its key was revoked (the session is then deleted).
    public func resolve(secret: String) async throws -> WebSession? {
        let id = Credentials.hash(secret)
        let time = now()
        let idleTimeout = self.idleTimeout
        let found = try await store.read { tx -> (WebSessionRecord, APIKeyRecord?, Organization?)? in
            guard let record = try await tx.fetch(WebSessionRecord.self, id: id, organizationID: nil, forUpdate: false)
            else { return nil }
            return (
                record, try await tx.apiKey(hash: record.keyHash), try await tx.organization(id: record.organizationID)
            )
        }
        guard let (record, key, organization) = found else { return nil }
        guard let key, key.revokedAt == nil, key.organizationID == record.organizationID, let organization,
            time.timeIntervalSince(record.lastUsed) <= idleTimeout
        else {
            try await store.transaction {
                _ = try await $0.delete(WebSessionRecord.self, id: id, organizationID: record.organizationID)
            }
            return nil
        }
        if time.timeIntervalSince(record.lastUsed) > Self.touchInterval {
            var touched = record
            touched.lastUsed = time
            let saved = touched
            try await store.transaction { try await $0.save(saved) }
        }
        return WebSession(
            organizationID: record.organizationID, organizationName: organization.name, keyPrefix: record.keyPrefix,
            csrfToken: Self.csrfToken(secret: secret))
    }

    public func signOut(secret: String) async throws {
        let id = Credentials.hash(secret)
        try await store.transaction { tx in
            guard let record = try await tx.fetch(WebSessionRecord.self, id: id, organizationID: nil, forUpdate: false)
            else { return }
            _ = try await tx.delete(WebSessionRecord.self, id: id, organizationID: record.organizationID)
        }
    }

    static func csrfToken(secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("cyberdesk dashboard csrf".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Credentials.base64URL(Array(mac))
    }

    /// Compares in constant time.
    public static func tokensMatch(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    // MARK: Keys and tokens of the signed-in organization

    public func keys(organizationID: String) async throws -> [APIKeyRecord] {
        try await store.read { try await $0.apiKeys() }.filter { $0.organizationID == organizationID }
            .sorted { $0.createdAt > $1.createdAt }
    }

    /// A new key in the organization; the secret is returned once.
    public func createKey(organizationID: String, name: String) async throws -> (APIKeyRecord, String) {
        let secret = Credentials.generate(prefix: "cdk_")
        let record = APIKeyRecord(
            id: UUIDText.new(), organizationID: organizationID, name: name, prefix: Credentials.displayPrefix(secret),
            hash: Credentials.hash(secret), createdAt: now())
        try await store.transaction { try await $0.insertAPIKey(record) }
        return (record, secret)
    }

    /// Revokes the organization's key `id` and ends the dashboard sessions made with it.
    public func revokeKey(id: String, organizationID: String) async throws {
        let time = now()
        try await store.transaction { tx in
            guard var key = try await tx.apiKeys().first(where: { $0.id == id && $0.organizationID == organizationID })
            else { throw ControlPlaneError.notFound("API key \(id) not found") }
            if key.revokedAt == nil {
                key.revokedAt = time
                try await tx.saveAPIKey(key)
            }
            try await tx.deleteWebSessions(keyHash: key.hash)
        }
    }

    public func tokens(organizationID: String) async throws -> [RegistrationTokenRecord] {
        try await store.read { try await $0.registrationTokens(organizationID: organizationID) }
    }

    /// A one-time machine registration token; the secret is returned once.
    public func createToken(organizationID: String, pools: [String], ttl: Double) async throws -> (
        RegistrationTokenRecord, String
    ) {
        let secret = Credentials.generate(prefix: "cdt_")
        let time = now()
        let record = RegistrationTokenRecord(
            id: UUIDText.new(), organizationID: organizationID, hash: Credentials.hash(secret), poolNames: pools,
            expiresAt: time.addingTimeInterval(ttl), createdAt: time)
        try await store.transaction { try await $0.insertRegistrationToken(record) }
        return (record, secret)
    }

    /// Marks the organization's token `id` used, so no machine can join with it.
    public func revokeToken(id: String, organizationID: String) async throws {
        let time = now()
        try await store.transaction { tx in
            guard
                var token = try await tx.registrationTokens(organizationID: organizationID).first(where: { $0.id == id }
                )
            else { throw ControlPlaneError.notFound("registration token \(id) not found") }
            if token.usedAt == nil, token.revokedAt == nil {
                token.revokedAt = time
                try await tx.saveRegistrationToken(token)
            }
        }
    }
}
