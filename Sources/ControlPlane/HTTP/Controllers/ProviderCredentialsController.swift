import CyberdeskAPI
import FoundationEssentials
import Planner

/// `/v1/provider-credentials`: an organization-wide API key per provider slot, used by model
/// configurations without a key of their own. The key is sealed in the vault; answers show
/// at most its last four characters.
struct ProviderCredentialsController {
    /// The small model `/validate` asks when neither a configuration nor a default names one.
    static let validationModels: [ModelProvider: String] = [
        .anthropic: "claude-haiku-4-5", .openai: "gpt-4o-mini",
    ]

    /// The longest a validation request may take.
    static let validationTimeout: Double = 30

    func register(_ api: APIRouter) {
        api.add(.get, "/v1/provider-credentials") { call in
            let records = try await call.app.store.read { tx in
                try await tx.list(
                    ProviderCredentialRecord.self, organizationID: call.organizationID, filters: [],
                    order: .oldestFirst, skip: 0, limit: 100
                ).items
            }
            return try .json(
                ModelProvider.allCases.map { slot in Self.response(slot, records.first { $0.slot == slot.rawValue }) })
        }

        api.add(.put, "/v1/provider-credentials/:slot") { call in
            let slot = try Self.slot(call)
            let patch = PatchBody(try call.object())
            guard case .some(let given?) = try patch.string("api_key") else {
                throw ControlPlaneError.badRequest(
                    "api_key is required for slot \(slot.rawValue) (this server's slots take an API key only)")
            }
            guard let key = try ModelConfigurationRules.apiKey(given) else {
                throw ControlPlaneError.badRequest("api_key is required for slot \(slot.rawValue)")
            }
            let time = Timestamp.truncated(call.app.now())
            let resolver = call.app.models
            let record = try await call.app.store.transaction { tx in
                var record =
                    try await ModelResolver.credential(slot: slot.rawValue, organizationID: call.organizationID, in: tx)
                    ?? ProviderCredentialRecord(
                        id: UUIDText.new(), organizationID: call.organizationID, slot: slot.rawValue, secretAlias: "",
                        status: "active", createdAt: time, updatedAt: time)
                let isNew = record.secretAlias.isEmpty
                record.secretAlias = try await resolver.storeKey(
                    key, ownerKind: .providerCredential, ownerID: record.id, organizationID: call.organizationID,
                    at: time, in: tx)
                record.keyLast4 = key.count > 8 ? String(key.suffix(4)) : nil
                record.status = "active"
                record.lastError = nil
                record.lastValidatedAt = nil
                record.updatedAt = time
                if isNew { try await tx.insert(record) } else { try await tx.save(record) }
                return record
            }
            return try .json(Self.response(slot, record))
        }

        // The SDK expects 200 with the slot's state (now `missing`), not 204.
        api.add(.delete, "/v1/provider-credentials/:slot") { call in
            let slot = try Self.slot(call)
            try await call.app.store.transaction { tx in
                guard
                    let record = try await ModelResolver.credential(
                        slot: slot.rawValue, organizationID: call.organizationID, in: tx)
                else { throw ControlPlaneError.notFound("no provider credential is set for slot \(slot.rawValue)") }
                try await tx.deleteSecrets(ownerKind: .providerCredential, ownerID: record.id)
                try await tx.delete(ProviderCredentialRecord.self, id: record.id, organizationID: call.organizationID)
            }
            return try .json(Self.response(slot, nil))
        }

        api.add(.post, "/v1/provider-credentials/:slot/validate") { call in
            let slot = try Self.slot(call)
            let configurationID = try call.queryUUID("model_configuration_id")
            let resolver = call.app.models
            // Which endpoint: the named configuration, else the organization's default for this
            // provider, else the provider's own API with a small model.
            let (endpoint, credential) = try await call.app.store.read {
                tx -> (ModelEndpoint, ProviderCredentialRecord?) in
                let credential = try await ModelResolver.credential(
                    slot: slot.rawValue, organizationID: call.organizationID, in: tx)
                var configuration: ModelConfigurationRecord?
                if let configurationID {
                    guard
                        let named = try await tx.fetch(
                            ModelConfigurationRecord.self, id: configurationID, organizationID: call.organizationID,
                            forUpdate: false)
                    else { throw ControlPlaneError.notFound("model configuration \(configurationID) not found") }
                    guard named.provider == slot.rawValue else {
                        throw ControlPlaneError.badRequest(
                            "model configuration '\(named.name)' uses provider \(named.provider), not \(slot.rawValue); validate it with /v1/provider-credentials/\(named.provider)/validate"
                        )
                    }
                    configuration = named
                } else if let fallback = try await resolver.defaultConfiguration(
                    organizationID: call.organizationID, in: tx), fallback.provider == slot.rawValue
                {
                    configuration = fallback
                }
                if let configuration {
                    let endpoint = try await resolver.endpoint(for: configuration, allowArchived: true, in: tx)
                    // The credential's state is only judged by a call made with its key.
                    let ownKey = configuration.apiKeyAlias != nil
                    return (endpoint, ownKey || endpoint.apiKey == nil ? nil : credential)
                }
                guard credential != nil else {
                    throw ControlPlaneError.badRequest(
                        "no API key to validate for slot \(slot.rawValue): set one with PUT /v1/provider-credentials/\(slot.rawValue), or name a model_configuration_id"
                    )
                }
                let key = try await resolver.credentialKey(slot: slot, organizationID: call.organizationID, in: tx)
                let endpoint = ModelEndpoint(
                    configurationID: "provider-credential-\(slot.rawValue)",
                    name: "provider credential \(slot.rawValue)", provider: slot,
                    model: Self.validationModels[slot] ?? "", apiKey: key, maxRetries: 0)
                return (endpoint, credential)
            }
            // One request, answered within 30 s: a validation is a question, not a run.
            var checked = endpoint
            checked.maxRetries = 0
            checked.timeoutSeconds = min(checked.timeoutSeconds, Self.validationTimeout)
            var failure: ModelError?
            do throws(ModelError) {
                try await call.app.modelAdapter(checked, call.app.logger).validate()
            } catch {
                failure = error
            }
            let time = Timestamp.truncated(call.app.now())
            var judged: ProviderCredentialRecord?
            if var record = credential {
                record.status = failure == nil ? "active" : "invalid"
                record.lastError = failure?.message
                record.lastValidatedAt = time
                record.updatedAt = time
                let changed = record
                judged = try await call.app.store.transaction { tx in
                    // Unless the key was replaced or removed meanwhile.
                    let current = try await tx.fetch(
                        ProviderCredentialRecord.self, id: changed.id, organizationID: changed.organizationID,
                        forUpdate: true)
                    guard current?.secretAlias == changed.secretAlias else { return current }
                    try await tx.save(changed)
                    return changed
                }
            } else {
                judged = try await call.app.store.read { tx in
                    try await ModelResolver.credential(slot: slot.rawValue, organizationID: call.organizationID, in: tx)
                }
            }
            var isAuthError = false
            if case .unauthorized = failure { isAuthError = true }
            let check = ProviderCredentialValidation.Check(
                check: "model_call", label: "one request to \(endpoint.provider.rawValue) model \(endpoint.model)",
                ok: failure == nil, model: endpoint.model, location: Self.location(endpoint), error: failure?.message,
                isAuthError: isAuthError)
            return try .json(
                ProviderCredentialValidation(
                    slot: slot.rawValue, ok: failure == nil, checks: [check], credential: Self.response(slot, judged)))
        }
    }

    static func slot(_ call: APICall) throws -> ModelProvider {
        let value = call.context.parameters.get("slot") ?? ""
        guard let slot = ModelProvider(rawValue: value) else {
            throw ControlPlaneError.badRequest(
                "provider credential slot '\(value)' is not supported by this server; supported: \(ModelProvider.supportedList)"
            )
        }
        return slot
    }

    /// Where the validation request went: the configured base URL or the provider's own.
    static func location(_ endpoint: ModelEndpoint) -> String {
        if case .string(let base)? = endpoint.additionalParams["base_url"] { return base }
        return endpoint.provider == .anthropic ? "https://api.anthropic.com" : "https://api.openai.com"
    }

    /// The SDK's `ProviderCredentialResponse`; never secret material.
    static func response(_ slot: ModelProvider, _ record: ProviderCredentialRecord?) -> ProviderCredentialResponse {
        ProviderCredentialResponse(
            slot: slot.rawValue, displayName: slot == .anthropic ? "Anthropic" : "OpenAI", source: "organization",
            coveredProviders: [slot.rawValue], status: record?.status ?? "missing",
            authType: record == nil ? nil : "api_key",
            displayMetadata: ProviderCredentialResponse.DisplayMetadata(keyLast4: record?.keyLast4),
            lastError: record?.lastError, activatedAt: record?.createdAt, lastValidatedAt: record?.lastValidatedAt,
            createdAt: record?.createdAt, updatedAt: record?.updatedAt)
    }
}

struct ProviderCredentialResponse: Codable, Sendable {
    struct DisplayMetadata: Codable, Sendable {
        var keyLast4: String?
        enum CodingKeys: String, CodingKey { case keyLast4 = "key_last4" }
    }

    var slot: String
    var displayName: String
    var source: String
    var coveredProviders: [String]
    var status: String
    var authType: String?
    var displayMetadata: DisplayMetadata
    var lastError: String?
    var activatedAt: Date?
    var lastValidatedAt: Date?
    var createdAt: Date?
    var updatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case slot, source, status
        case displayName = "display_name"
        case coveredProviders = "covered_providers"
        case authType = "auth_type"
        case displayMetadata = "display_metadata"
        case lastError = "last_error"
        case activatedAt = "activated_at"
        case lastValidatedAt = "last_validated_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// The SDK's `ProviderCredentialValidationResponse`.
struct ProviderCredentialValidation: Codable, Sendable {
    struct Check: Codable, Sendable {
        var check: String
        var label: String
        var ok: Bool
        var model: String?
        /// The base URL the request went to.
        var location: String?
        /// `ModelError.message`: names the configuration and the cause, never the key.
        @AlwaysPresent var error: String?
        var isAuthError: Bool

        enum CodingKeys: String, CodingKey {
            case check, label, ok, model, location, error
            case isAuthError = "is_auth_error"
        }
    }

    var slot: String
    var ok: Bool
    var checks: [Check]
    var credential: ProviderCredentialResponse
}
