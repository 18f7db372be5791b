import CyberdeskAPI
import FoundationEssentials
import HTTPTypes
import Hummingbird

/// `/v1/run-attachments`: files in and out of runs, downloads and signed download URLs.
struct RunAttachmentsController {
    func register(_ api: APIRouter) {
        api.add(.get, "/v1/run-attachments") { call in
            var filters: [RecordFilter] = []
            if let runID = try call.queryUUID("run_id") { filters.append(.equals("run_id", .text(runID))) }
            if let type = try call.queryEnum("attachment_type", AttachmentType.self) {
                filters.append(.equals("attachment_type", .text(type.rawValue)))
            }
            let (skip, limit) = (try call.skip, try call.limit)
            let chosen = filters
            let page = try await call.app.store.transaction {
                try await $0.list(
                    RunAttachment.self, organizationID: call.organizationID, filters: chosen, order: .oldestFirst,
                    skip: skip, limit: limit)
            }
            return try .json(Page(items: page.items, total: page.total, skip: skip, limit: limit))
        }

        api.add(.post, "/v1/run-attachments", body: .files) { call in
            let create = try call.decode(RunAttachmentCreate.self)
            let runID = try requireUUID(create.runID, field: "run_id")
            try RunFactory.checkFilename(create.filename, field: "filename")
            if let target = create.targetPath { try RunFactory.checkTargetPath(target, field: "target_path") }
            let file = try await call.app.runs.storeFiles([
                FileInput(filename: create.filename, content: create.content, targetPath: create.targetPath)
            ])[0]
            let time = Timestamp.truncated(call.app.now())
            let attachment = RunAttachment(
                id: UUIDText.new(), organizationID: call.organizationID, runID: runID, filename: create.filename,
                contentType: create.contentType.isEmpty ? ContentTypes.guess(create.filename) : create.contentType,
                attachmentType: create.attachmentType, sizeBytes: file.size, sha256: file.sha256,
                storagePath: "sha256/" + file.sha256, targetPath: create.targetPath,
                cleanupImportsAfterRun: create.cleanupImportsAfterRun ?? false,
                expiresAt: create.expiresAt.map(Timestamp.truncated), createdAt: time)
            do {
                try await call.app.store.transaction { tx in
                    guard
                        var stored = try await tx.fetch(
                            StoredRun.self, id: runID, organizationID: call.organizationID, forUpdate: true)
                    else { throw ControlPlaneError.notFound("run \(runID) not found") }
                    try await tx.insert(attachment)
                    switch attachment.attachmentType {
                    case .input: stored.run.inputAttachmentIDs.append(attachment.id)
                    case .output: stored.run.outputAttachmentIDs.append(attachment.id)
                    }
                    try await tx.save(stored)
                }
            } catch {
                // Another organization's run, or a deleted one: keep no blob of the refused file.
                await call.app.runs.discard([file])
                throw error
            }
            return try .json(attachment, status: .created)
        }

        api.add(.get, "/v1/run-attachments/:id") { call in
            try .json(try await Self.fetch(call))
        }

        api.add(.put, "/v1/run-attachments/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let attachment = try await call.app.store.transaction { tx in
                guard
                    var attachment = try await tx.fetch(
                        RunAttachment.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("run attachment \(id) not found") }
                if case .some(let value) = try patch.date("expires_at") {
                    attachment.expiresAt = value.map(Timestamp.truncated)
                }
                try await tx.save(attachment)
                return attachment
            }
            return try .json(attachment)
        }

        api.add(.delete, "/v1/run-attachments/:id") { call in
            let id = try call.id()
            let attachment = try await call.app.store.transaction { tx in
                guard
                    let attachment = try await tx.fetch(
                        RunAttachment.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("run attachment \(id) not found") }
                if var stored = try await tx.fetch(
                    StoredRun.self, id: attachment.runID, organizationID: call.organizationID, forUpdate: true)
                {
                    stored.run.inputAttachmentIDs.removeAll { $0 == id }
                    stored.run.outputAttachmentIDs.removeAll { $0 == id }
                    try await tx.save(stored)
                }
                try await tx.delete(RunAttachment.self, id: id, organizationID: call.organizationID)
                return attachment
            }
            await call.app.releaseBlobs([attachment])
            return .empty
        }

        api.add(.get, "/v1/run-attachments/:id/download-url") { call in
            let attachment = try await Self.fetch(call)
            let expiresIn = try call.queryInt("expires_in", default: 300, in: 10...3600)
            let expires = Int64(call.app.now().timeIntervalSince1970) + Int64(expiresIn)
            let path = "/v1/run-attachments/\(attachment.id)/download"
            let signature = call.app.signer.signature(path: path, expires: expires)
            let url = call.baseURL + path + "?expires=\(expires)&signature=\(signature)"
            return try .json(["url": JSONValue.string(url), "expires_in": .int(Int64(expiresIn))])
        }

        // Downloads take an API key, or instead a signature from `download-url`.
        let app = api.app
        api.router.get("/v1/run-attachments/:id/download") { request, context -> Response in
            let query = request.uri.queryParameters
            guard let signature = query["signature"].map(String.init) else {
                let route = APIRouter.Route(
                    method: .get, path: "/v1/run-attachments/:id/download", maxBody: app.limits.maxBody(.small))
                return await APIRouter.serve(request: request, context: context, app: app, route: route) { call in
                    try await Self.download(try await Self.fetch(call), app: app)
                }
            }
            do {
                let id = context.parameters.get("id").flatMap(UUIDText.normalized) ?? ""
                let path = "/v1/run-attachments/\(context.parameters.get("id") ?? "")/download"
                guard let expires = query["expires"].flatMap({ Int64($0) }),
                    app.signer.verify(path: path, expires: expires, signature: signature, now: app.now())
                else {
                    throw ControlPlaneError.forbidden("the download link is invalid or has expired; ask for a new one")
                }
                let attachment = try await app.store.transaction {
                    try await $0.fetch(RunAttachment.self, id: id, organizationID: nil, forUpdate: false)
                }
                guard let attachment else { throw ControlPlaneError.notFound("run attachment \(id) not found") }
                return try await Self.download(attachment, app: app).response()
            } catch {
                return APIResponse.from(error: error).response()
            }
        }
    }

    /// A run image by its signed link (`GET /v1/runs/{id}/image/signed-url`); no API key.
    static func registerRunImages(_ api: APIRouter) {
        let app = api.app
        api.addPublic(.get, "/v1/run-images/:run_id/:image_id") { request, context in
            let runID = context.parameters.get("run_id").flatMap(UUIDText.normalized) ?? ""
            let imageID = context.parameters.get("image_id") ?? ""
            let query = request.uri.queryParameters
            guard let signature = query["signature"].map(String.init),
                let expires = query["expires"].flatMap({ Int64($0) }),
                app.signer.verify(
                    path: "/v1/run-images/\(runID)/\(imageID)", expires: expires, signature: signature, now: app.now())
            else { throw ControlPlaneError.forbidden("the image link is invalid or has expired; ask for a new one") }
            let stored = try await app.store.transaction {
                try await $0.fetch(StoredRun.self, id: runID, organizationID: nil, forUpdate: false)
            }
            guard let digest = stored?.images?[imageID], let reader = try await app.blobs.reader(digest) else {
                throw ControlPlaneError.notFound("image \(imageID) not found")
            }
            return .stream(reader, contentType: "image/png", headers: [.cacheControl: "no-store"])
        }
    }

    static func download(_ attachment: RunAttachment, app: ControlPlane) async throws -> APIResponse {
        if let expires = attachment.expiresAt, expires < app.now() {
            throw ControlPlaneError.notFound(
                "run attachment \(attachment.id) expired at \(APIJSON.formatTimestamp(expires))")
        }
        guard let bytes = try await app.blobs.get(attachment.sha256) else {
            throw ControlPlaneError.notFound(
                "the content of run attachment \(attachment.id) is missing from the blob store")
        }
        var headers = HTTPFields()
        headers[.contentDisposition] = contentDisposition(attachment.filename)
        headers[.cacheControl] = "no-store"
        return .bytes(bytes, contentType: attachment.contentType, headers: headers)
    }

    /// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
    static func contentDisposition(_ filename: String) -> String {
        let ascii = String(
            filename.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" ? Character(scalar) : "_"
            })
        var encoded = ""
        for byte in filename.utf8 {
            let unreserved =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2d || byte == 0x2e || byte == 0x5f || byte == 0x7e
            if unreserved {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }

    static func fetch(_ call: APICall) async throws -> RunAttachment {
        try await call.record(RunAttachment.self, named: "run attachment")
    }
}
