import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// `/v1/workflows/prompt-image[s]`: images that workflow prompts show the model. Registered
/// before `WorkflowsController`, so these paths are never taken for `/v1/workflows/{id}`.
struct PromptImagesController {
    /// Signed URLs last this long unless `expires_in` asks otherwise (10 s to 24 h).
    static let defaultExpiry = 3600

    func register(_ api: APIRouter) {
        api.add(.post, "/v1/workflows/prompt-image", body: .files) { call in
            let image = try Self.uploadedImage(call)
            let blobs = call.app.blobs
            let existed = try await blobs.contains(FileBlobStore.digest(image.bytes))
            let sha256 = try await blobs.put(image.bytes)
            let time = Timestamp.truncated(call.app.now())
            let record = PromptImageRecord(
                id: UUIDText.new(), organizationID: call.organizationID,
                path: "\(call.organizationID)/prompt-assets/\(UUIDText.new()).\(image.fileExtension)",
                filename: image.filename, contentType: image.mediaType, sizeBytes: Int64(image.bytes.count),
                sha256: sha256, createdAt: time)
            do {
                try await call.app.store.transaction { try await $0.insert(record) }
            } catch {
                if !existed { await Self.release(sha256, app: call.app) }
                throw error
            }
            let link = Self.signedURL(record, expiresIn: Self.defaultExpiry, call: call)
            return try .json(
                [
                    "supabase_url": .string(PromptImages.referencePrefix + record.path), "signed_url": .string(link),
                    "filename": .string(record.filename), "content_type": .string(record.contentType),
                    "size_bytes": .int(record.sizeBytes), "path": .string(record.path),
                ] as JSONObject, status: .created)
        }

        api.add(.get, "/v1/workflows/prompt-images") { call in
            let records = try await call.app.store.read { tx in
                try await tx.list(
                    PromptImageRecord.self, organizationID: call.organizationID, filters: [], order: .newestFirst,
                    skip: 0, limit: 10_000
                ).items
            }
            return try .json(
                records.map { record -> JSONObject in
                    [
                        "supabase_url": .string(PromptImages.referencePrefix + record.path),
                        "path": .string(record.path), "filename": .string(record.filename),
                        "content_type": .string(record.contentType),
                        "created_at": .string(APIJSON.formatTimestamp(record.createdAt)),
                        "size_bytes": .int(record.sizeBytes),
                    ]
                })
        }

        api.add(.get, "/v1/workflows/prompt-image/signed-url") { call in
            let record = try await Self.fetch(call)
            let expiresIn = try call.queryInt("expires_in", default: Self.defaultExpiry, in: 10...86_400)
            return try .json(
                [
                    "supabase_url": .string(PromptImages.referencePrefix + record.path),
                    "signed_url": .string(Self.signedURL(record, expiresIn: expiresIn, call: call)),
                    "expires_in": .int(Int64(expiresIn)),
                ] as JSONObject)
        }

        api.add(.delete, "/v1/workflows/prompt-image") { call in
            let record = try await Self.fetch(call)
            try await call.app.store.transaction { tx in
                _ = try await tx.delete(PromptImageRecord.self, id: record.id, organizationID: call.organizationID)
            }
            await Self.release(record.sha256, app: call.app)
            return .empty
        }

        // The signed link: no API key, only a valid unexpired signature of this path.
        let app = api.app
        api.addPublic(.get, "/v1/workflow-prompt-images/:id") { request, context in
            let id = context.parameters.get("id").flatMap(UUIDText.normalized) ?? ""
            let query = request.uri.queryParameters
            guard let signature = query["signature"].map(String.init),
                let expires = query["expires"].flatMap({ Int64($0) }),
                app.signer.verify(
                    path: "/v1/workflow-prompt-images/\(id)", expires: expires, signature: signature, now: app.now())
            else { throw ControlPlaneError.forbidden("the image link is invalid or has expired; ask for a new one") }
            let record = try await app.store.read {
                try await $0.fetch(PromptImageRecord.self, id: id, organizationID: nil, forUpdate: false)
            }
            guard let record, let reader = try await app.blobs.reader(record.sha256) else {
                throw ControlPlaneError.notFound("prompt image \(id) not found")
            }
            return .stream(
                reader, contentType: record.contentType,
                headers: [.cacheControl: "private, no-store", .xContentTypeOptions: "nosniff"])
        }
    }

    struct UploadedImage {
        var bytes: [UInt8]
        var filename: String
        var mediaType: String
        var fileExtension: String
    }

    /// The `file` part, checked: at most 10 MiB, and PNG, JPEG, GIF or WebP by its bytes.
    static func uploadedImage(_ call: APICall) throws -> UploadedImage {
        let missing = RequestValidationError(loc: ["body", "file"], msg: "Field required", type: "missing")
        guard let contentType = call.request.headers[.contentType] else { throw missing }
        let form: MultipartFormData
        do throws(MultipartError) {
            form = try MultipartFormData(body: call.body, contentType: contentType)
        } catch {
            throw RequestValidationError(loc: ["body", "file"], msg: error.description, type: "value_error")
        }
        guard let part = form.part(named: "file") else { throw missing }
        guard part.body.count <= PromptImages.maxBytes else {
            throw ControlPlaneError.tooLarge(
                "the image is \(part.body.count) bytes; prompt images may be at most 10 MiB (\(PromptImages.maxBytes) bytes)"
            )
        }
        guard let kind = PromptImages.sniff(part.body) else {
            throw ControlPlaneError.badRequest(
                "the file is not an image this server accepts: PNG, JPEG, GIF or WebP (recognised by their content, not their name or Content-Type)"
            )
        }
        return UploadedImage(
            bytes: part.body, filename: safeFilename(part.filename, fileExtension: kind.fileExtension),
            mediaType: kind.mediaType, fileExtension: kind.fileExtension)
    }

    /// The uploaded name's last path component without control characters, or `image.<ext>`.
    static func safeFilename(_ given: String?, fileExtension: String) -> String {
        let last = given?.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(last.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(Character.init))
        guard !cleaned.isEmpty, cleaned != ".", cleaned != "..", cleaned.utf8.count <= 255 else {
            return "image." + fileExtension
        }
        return cleaned
    }

    /// The image named by `?path=` (a storage path or a whole `supabase://` reference).
    static func fetch(_ call: APICall) async throws -> PromptImageRecord {
        guard let given = call.query("path"), !given.isEmpty else {
            throw RequestValidationError(loc: ["query", "path"], msg: "Field required", type: "missing")
        }
        let path = PromptImages.path(of: given)
        let record = try await call.app.store.read { tx -> PromptImageRecord? in
            guard let path else { return nil }
            return try await PromptImages.record(path: path, organizationID: call.organizationID, in: tx)
        }
        guard let record else { throw ControlPlaneError.notFound("prompt image '\(given)' not found") }
        return record
    }

    static func signedURL(_ record: PromptImageRecord, expiresIn: Int, call: APICall) -> String {
        let expires = Int64(call.app.now().timeIntervalSince1970) + Int64(expiresIn)
        let path = "/v1/workflow-prompt-images/\(record.id)"
        let signature = call.app.signer.signature(path: path, expires: expires)
        return call.baseURL + path + "?expires=\(expires)&signature=\(signature)"
    }

    /// Deletes the blob unless an attachment or another prompt image still holds it.
    static func release(_ sha256: String, app: ControlPlane) async {
        let count = (try? await app.store.transaction { try await $0.attachmentCount(sha256: sha256) }) ?? 1
        if count == 0 { try? await app.blobs.delete(sha256) }
    }
}
