import CyberdeskAPI
import FoundationEssentials

/// An organization's API key for one provider slot (`/v1/provider-credentials/{slot}`), which a
/// model configuration without its own key falls back to. The key is sealed in the vault
/// (owner `provider_credential/<id>`); this record keeps only what the SDK may show.
public struct ProviderCredentialRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    /// A `ModelProvider` raw value.
    public var slot: String
    /// The vault alias of the key.
    public var secretAlias: String
    /// The last four characters of the key (`display_metadata.key_last4`), to tell keys apart.
    public var keyLast4: String?
    /// `active` until a validation fails (`invalid`).
    public var status: String
    public var lastError: String?
    public var lastValidatedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, organizationID: String, slot: String, secretAlias: String, keyLast4: String? = nil,
        status: String, lastError: String? = nil, lastValidatedAt: Date? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.slot = slot
        self.secretAlias = secretAlias
        self.keyLast4 = keyLast4
        self.status = status
        self.lastError = lastError
        self.lastValidatedAt = lastValidatedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, slot, status
        case organizationID = "organization_id"
        case secretAlias = "secret_alias"
        case keyLast4 = "key_last4"
        case lastError = "last_error"
        case lastValidatedAt = "last_validated_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// An uploaded prompt image (`POST /v1/workflows/prompt-image`). `path` is the SDK's storage
/// path, `<organization id>/prompt-assets/<uuid>.<ext>`; prompts refer to it as
/// `supabase://workflow-prompt-images/<path>`. The bytes are a blob (by SHA-256).
public struct PromptImageRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var path: String
    /// The name the image was uploaded with (a plain file name).
    public var filename: String
    /// From the image's own bytes, never from what the client claimed.
    public var contentType: String
    public var sizeBytes: Int64
    public var sha256: String
    public var createdAt: Date

    public init(
        id: String, organizationID: String, path: String, filename: String, contentType: String, sizeBytes: Int64,
        sha256: String, createdAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.path = path
        self.filename = filename
        self.contentType = contentType
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, path, filename, sha256
        case organizationID = "organization_id"
        case contentType = "content_type"
        case sizeBytes = "size_bytes"
        case createdAt = "created_at"
    }
}
