import FoundationEssentials

/// A file that went into a run (`input`) or came out of it (`output`). The bytes live in the
/// blob store, addressed by their SHA-256 (`storage_path` is `sha256/<hex>`).
public struct RunAttachment: Codable, Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var runID: String
    public var filename: String
    public var contentType: String
    public var attachmentType: AttachmentType
    public var sizeBytes: Int64
    public var sha256: String
    public var storagePath: String
    public var targetPath: String?
    public var cleanupImportsAfterRun: Bool
    public var expiresAt: Date?
    public var createdAt: Date

    public init(
        id: String, organizationID: String, runID: String, filename: String, contentType: String,
        attachmentType: AttachmentType, sizeBytes: Int64, sha256: String, storagePath: String,
        targetPath: String?, cleanupImportsAfterRun: Bool, expiresAt: Date?, createdAt: Date
    ) {
        self.id = id
        self.organizationID = organizationID
        self.runID = runID
        self.filename = filename
        self.contentType = contentType
        self.attachmentType = attachmentType
        self.sizeBytes = sizeBytes
        self.sha256 = sha256
        self.storagePath = storagePath
        self.targetPath = targetPath
        self.cleanupImportsAfterRun = cleanupImportsAfterRun
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, filename, sha256
        case organizationID = "organization_id"
        case runID = "run_id"
        case contentType = "content_type"
        case attachmentType = "attachment_type"
        case sizeBytes = "size_bytes"
        case storagePath = "storage_path"
        case targetPath = "target_path"
        case cleanupImportsAfterRun = "cleanup_imports_after_run"
        case expiresAt = "expires_at"
        case createdAt = "created_at"
    }
}

/// A file given with a run: `content` is base64.
public struct FileInput: Codable, Sendable, Hashable {
    public var filename: String
    public var content: String
    public var targetPath: String?
    public var cleanupImportsAfterRun: Bool?

    public init(filename: String, content: String, targetPath: String? = nil, cleanupImportsAfterRun: Bool? = nil) {
        self.filename = filename
        self.content = content
        self.targetPath = targetPath
        self.cleanupImportsAfterRun = cleanupImportsAfterRun
    }

    enum CodingKeys: String, CodingKey {
        case filename, content
        case targetPath = "target_path"
        case cleanupImportsAfterRun = "cleanup_imports_after_run"
    }
}

/// `POST /v1/run-attachments`.
public struct RunAttachmentCreate: Codable, Sendable {
    public var runID: String
    public var filename: String
    public var content: String
    public var contentType: String
    public var attachmentType: AttachmentType
    public var targetPath: String?
    public var cleanupImportsAfterRun: Bool?
    public var expiresAt: Date?

    enum CodingKeys: String, CodingKey {
        case filename, content
        case runID = "run_id"
        case contentType = "content_type"
        case attachmentType = "attachment_type"
        case targetPath = "target_path"
        case cleanupImportsAfterRun = "cleanup_imports_after_run"
        case expiresAt = "expires_at"
    }
}
