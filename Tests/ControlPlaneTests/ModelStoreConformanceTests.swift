import ControlPlane
import CyberdeskAPI
import Foundation
import Testing

/// The model and prompt-image tables on every store: the one-default constraint, and prompt
/// images holding blobs the way attachments do.
@Suite("Store conformance: models and prompt images")
struct ModelStoreConformanceTests {
    let organizationID = Records.id()

    func configuration(_ organizationID: String, isDefault: Bool, at seconds: Int = 0) -> ModelConfigurationRecord {
        ModelConfigurationRecord(
            id: Records.id(), organizationID: organizationID, name: "m\(seconds)", provider: "anthropic",
            model: "claude", additionalParams: ["base_url": "http://10.0.0.7"], isSystemDefault: isDefault,
            createdAt: Records.time(seconds), updatedAt: Records.time(seconds))
    }

    @Test("at most one default configuration per organization", arguments: StoreFactory.all)
    func oneDefault(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let first = configuration(organizationID, isDefault: true)
            let elsewhere = configuration(Records.id(), isDefault: true)
            try await store.insert([first, elsewhere, configuration(organizationID, isDefault: false, at: 1)])
            await #expect(throws: StoreError.self) {
                try await store.insert([configuration(organizationID, isDefault: true, at: 2)])
            }
            let defaults = try await store.transaction { tx in
                try await tx.list(
                    ModelConfigurationRecord.self, organizationID: organizationID,
                    filters: [.equals("is_system_default", .bool(true))], order: .newestFirst, skip: 0, limit: 10)
            }
            #expect(defaults.items == [first])
            #expect(
                try await store.fetch(ModelConfigurationRecord.self, id: first.id, organizationID: organizationID)
                    == first)
        }
    }

    @Test("a prompt image holds its blob like an attachment does", arguments: StoreFactory.all)
    func promptImagesHoldBlobs(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let digest = String(repeating: "ab", count: 32)
            let image = PromptImageRecord(
                id: Records.id(), organizationID: organizationID, path: "\(organizationID)/prompt-assets/a.png",
                filename: "a.png", contentType: "image/png", sizeBytes: 10, sha256: digest, createdAt: Records.time(0))
            try await store.insert([image])
            #expect(try await store.transaction { try await $0.attachmentCount(sha256: digest) } == 1)
            let found = try await store.transaction { tx in
                try await tx.list(
                    PromptImageRecord.self, organizationID: organizationID,
                    filters: [.equals("path", .text(image.path))], order: .newestFirst, skip: 0, limit: 1)
            }
            #expect(found.items == [image])
            await #expect(throws: StoreError.self, "paths are unique") {
                var copy = image
                copy.id = Records.id()
                try await store.insert([copy])
            }
            _ = try await store.transaction {
                try await $0.delete(PromptImageRecord.self, id: image.id, organizationID: organizationID)
            }
            #expect(try await store.transaction { try await $0.attachmentCount(sha256: digest) } == 0)
        }
    }

    @Test("one provider credential per organization and slot", arguments: StoreFactory.all)
    func credentialPerSlot(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            func credential(_ slot: String) -> ProviderCredentialRecord {
                ProviderCredentialRecord(
                    id: Records.id(), organizationID: organizationID, slot: slot, secretAlias: "vault:x",
                    keyLast4: "abcd", status: "active", createdAt: Records.time(0), updatedAt: Records.time(0))
            }
            try await store.insert([credential("anthropic"), credential("openai")])
            await #expect(throws: StoreError.self) { try await store.insert([credential("anthropic")]) }
        }
    }
}
