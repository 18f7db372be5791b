import CyberdeskAPI
import FoundationEssentials

/// Prompt images: how prompts refer to them, which bytes are accepted, and how the planner
/// loop reads them.
///
/// A prompt refers to an image as the SDK documents it,
/// `<img src="supabase://workflow-prompt-images/<path>" alt="...">`, where `<path>` is
/// `<organization id>/prompt-assets/<uuid>.<ext>` as returned by `upload_prompt_image`.
public struct PromptImages: Sendable {
    let store: any Store
    let blobs: any BlobStore

    public init(store: any Store, blobs: any BlobStore) {
        self.store = store
        self.blobs = blobs
    }

    /// The scheme and bucket of every reference.
    public static let referencePrefix = "supabase://workflow-prompt-images/"
    /// Largest accepted image.
    public static let maxBytes = 10 << 20

    /// The image a prompt refers to, for the model: its bytes and media type (`image/png`,
    /// `image/jpeg`, `image/gif`, `image/webp`, from the bytes themselves). Nil when the
    /// organization has no such image (never uploaded, deleted since, or another
    /// organization's).
    public func promptImage(reference: String, organizationID: String) async throws -> (
        bytes: [UInt8], mediaType: String
    )? {
        guard let path = Self.path(of: reference) else { return nil }
        let record = try await store.read { tx in
            try await Self.record(path: path, organizationID: organizationID, in: tx)
        }
        guard let record, let bytes = try await blobs.get(record.sha256) else { return nil }
        return (bytes, record.contentType)
    }

    static func record(path: String, organizationID: String, in tx: any StoreTransaction) async throws
        -> PromptImageRecord?
    {
        try await tx.list(
            PromptImageRecord.self, organizationID: organizationID, filters: [.equals("path", .text(path))],
            order: .newestFirst, skip: 0, limit: 1
        ).items.first
    }

    /// `supabase://workflow-prompt-images/<path>` or the bare `<path>` → `<path>`.
    static func path(of reference: String) -> String? {
        let path = reference.hasPrefix(referencePrefix) ? String(reference.dropFirst(referencePrefix.count)) : reference
        guard !path.isEmpty, path.utf8.count <= 512, !path.split(separator: "/").contains(".."),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return nil }
        return path
    }

    /// Every prompt image a prompt refers to (`<img src="supabase://workflow-prompt-images/...">`),
    /// in order, duplicates kept.
    public static func references(in prompt: String) -> [String] {
        pieces(of: prompt).compactMap { piece -> String? in
            guard case .image(let reference, _) = piece else { return nil }
            return reference
        }
    }

    /// A prompt as the model should see it: text, and images in place of their `<img>` tags.
    public enum Piece: Sendable, Hashable {
        case text(String)
        /// `reference` is the `src`; `alt` the tag's alt text, if any.
        case image(reference: String, alt: String?)
    }

    /// Splits a prompt at its prompt-image tags. Other `<img>` tags (http URLs, data URLs) stay
    /// text: only images uploaded with `upload_prompt_image` are sent as images.
    public static func pieces(of prompt: String) -> [Piece] {
        var pieces: [Piece] = []
        var text = ""
        var index = prompt.startIndex
        while index < prompt.endIndex {
            guard prompt[index] == "<", let tag = imageTag(in: prompt, at: index) else {
                text.append(prompt[index])
                index = prompt.index(after: index)
                continue
            }
            if let source = tag.attributes["src"], source.hasPrefix(referencePrefix) {
                if !text.isEmpty { pieces.append(.text(text)) }
                text = ""
                pieces.append(.image(reference: source, alt: tag.attributes["alt"]))
            } else {
                text += prompt[index..<tag.end]
            }
            index = tag.end
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        return pieces
    }

    /// An `<img ...>` tag starting at `start`: its attributes (names lowercased) and where it ends.
    private static func imageTag(in prompt: String, at start: String.Index) -> (
        attributes: [String: String], end: String.Index
    )? {
        guard prompt[start...].prefix(4).lowercased() == "<img",
            var index = prompt.index(start, offsetBy: 4, limitedBy: prompt.endIndex), index < prompt.endIndex
        else { return nil }
        guard prompt[index].isWhitespace || prompt[index] == "/" || prompt[index] == ">" else { return nil }
        var attributes: [String: String] = [:]
        while index < prompt.endIndex {
            let character = prompt[index]
            if character == ">" { return (attributes, prompt.index(after: index)) }
            if character.isWhitespace || character == "/" {
                index = prompt.index(after: index)
                continue
            }
            var name = ""
            while index < prompt.endIndex, !prompt[index].isWhitespace, !"=>/".contains(prompt[index]) {
                name.append(prompt[index])
                index = prompt.index(after: index)
            }
            while index < prompt.endIndex, prompt[index].isWhitespace { index = prompt.index(after: index) }
            var value = ""
            if index < prompt.endIndex, prompt[index] == "=" {
                index = prompt.index(after: index)
                while index < prompt.endIndex, prompt[index].isWhitespace { index = prompt.index(after: index) }
                guard index < prompt.endIndex else { return nil }
                if prompt[index] == "\"" || prompt[index] == "'" {
                    let quote = prompt[index]
                    index = prompt.index(after: index)
                    guard let close = prompt[index...].firstIndex(of: quote) else { return nil }
                    value = String(prompt[index..<close])
                    index = prompt.index(after: close)
                } else {
                    while index < prompt.endIndex, !prompt[index].isWhitespace, prompt[index] != ">" {
                        value.append(prompt[index])
                        index = prompt.index(after: index)
                    }
                }
            }
            if name.isEmpty {
                index = prompt.index(after: index)
                continue
            }
            let key = name.lowercased()
            if attributes[key] == nil { attributes[key] = value }
        }
        return nil
    }

    /// Every reference in `prompt` must be an image of the organization; a 400 names the first
    /// one that is not.
    static func checkReferences(in prompt: String, field: String, organizationID: String, in tx: any StoreTransaction)
        async throws
    {
        for reference in Set(references(in: prompt)).sorted() {
            var found: PromptImageRecord?
            if let path = Self.path(of: reference) {
                found = try await record(path: path, organizationID: organizationID, in: tx)
            }
            guard found != nil else {
                throw ControlPlaneError.badRequest(
                    "\(field) refers to image '\(reference)', which is not a prompt image of this organization; upload it with workflows.upload_prompt_image and use the supabase_url it returns"
                )
            }
        }
    }

    /// The media type of an accepted image, from its first bytes; nil for anything else.
    static func sniff(_ bytes: [UInt8]) -> (mediaType: String, fileExtension: String)? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return ("image/png", "png") }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return ("image/jpeg", "jpg") }
        if bytes.starts(with: Array("GIF87a".utf8)) || bytes.starts(with: Array("GIF89a".utf8)) {
            return ("image/gif", "gif")
        }
        if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return ("image/webp", "webp")
        }
        return nil
    }
}
