import CyberdeskAPI
import FoundationEssentials
import Planner

/// Turns a stored model configuration into the `ModelEndpoint` the planner loop calls: the
/// configuration's settings with its API key opened from the vault — its own key, else the
/// organization's provider credential for its provider, else none (local model servers).
public struct ModelResolver: Sendable {
    let vault: Vault

    public init(vault: Vault) { self.vault = vault }

    /// Timeout per HTTP attempt when the configuration sets none.
    public static let defaultTimeoutSeconds: Double = 120
    /// Retries after the first attempt when the configuration sets none.
    public static let defaultMaxRetries = 2

    /// The endpoint of the configuration, or nil when the organization has no such
    /// configuration. Throws `ModelResolutionError` when it exists but must not be used: it is
    /// archived, names a provider this server does not speak, or its key cannot be opened.
    public func endpoint(configurationID: String, organizationID: String, in tx: any StoreTransaction) async throws
        -> ModelEndpoint?
    {
        guard
            let record = try await tx.fetch(
                ModelConfigurationRecord.self, id: configurationID, organizationID: organizationID, forUpdate: false)
        else { return nil }
        return try await endpoint(for: record, allowArchived: false, in: tx)
    }

    /// The models of a run, resolved: its `model_metadata` (fixed at creation), with the
    /// organization's default configuration as the main agent when the run names none. A
    /// configuration the run names that was deleted or archived since throws
    /// `ModelResolutionError`; `main` is nil only when no model is configured anywhere (the
    /// loop then fails the run: `ModelResolutionError.noModel` says so).
    public func models(for run: Run, in tx: any StoreTransaction) async throws -> RunModels {
        let metadata = run.modelMetadata ?? WorkflowModelMetadata()
        func resolve(_ id: String?, field: String) async throws -> ModelEndpoint? {
            guard let id else { return nil }
            guard let endpoint = try await endpoint(configurationID: id, organizationID: run.organizationID, in: tx)
            else { throw ModelResolutionError.deleted(id: id, field: field) }
            return endpoint
        }
        var main = try await resolve(metadata.mainAgentModelID, field: "main_agent_model_id")
        if main == nil, let fallback = try await defaultConfigurationID(organizationID: run.organizationID, in: tx) {
            main = try await endpoint(configurationID: fallback, organizationID: run.organizationID, in: tx)
        }
        let fallbacks = [
            try await resolve(metadata.fallbackModel1ID, field: "fallback_model_1_id"),
            try await resolve(metadata.fallbackModel2ID, field: "fallback_model_2_id"),
        ].compactMap { $0 }
        return RunModels(
            main: main,
            cacheDetection: try await resolve(metadata.cacheDetectionModelID, field: "cache_detection_model_id"),
            fallbacks: fallbacks)
    }

    /// The organization's default configuration (`is_system_default`) unless it is archived.
    public func defaultConfigurationID(organizationID: String, in tx: any StoreTransaction) async throws -> String? {
        try await defaultConfiguration(organizationID: organizationID, in: tx)?.id
    }

    func defaultConfiguration(organizationID: String, in tx: any StoreTransaction) async throws
        -> ModelConfigurationRecord?
    {
        try await tx.list(
            ModelConfigurationRecord.self, organizationID: organizationID,
            filters: [.equals("is_system_default", .bool(true)), .equals("is_archived", .bool(false))],
            order: .newestFirst, skip: 0, limit: 1
        ).items.first
    }

    /// `allowArchived` only for `/validate`, which may test a configuration kept for reference.
    func endpoint(for record: ModelConfigurationRecord, allowArchived: Bool, in tx: any StoreTransaction) async throws
        -> ModelEndpoint
    {
        if record.isArchived, !allowArchived {
            throw ModelResolutionError.archived(id: record.id, name: record.name)
        }
        guard let provider = ModelProvider(rawValue: record.provider) else {
            throw ModelResolutionError.unsupportedProvider(id: record.id, name: record.name, provider: record.provider)
        }
        var key = try await openKey(ownerKind: .modelConfiguration, ownerID: record.id, in: tx, name: record.name)
        if key == nil, Self.callsTheProvider(record.additionalParams, provider) {
            key = try await credentialKey(slot: provider, organizationID: record.organizationID, in: tx)
        }
        return ModelEndpoint(
            configurationID: record.id, name: record.name, provider: provider, model: record.model, apiKey: key,
            temperature: record.temperature, maxTokens: record.maxTokens,
            timeoutSeconds: record.timeoutSeconds ?? Self.defaultTimeoutSeconds,
            maxRetries: record.maxRetries ?? Self.defaultMaxRetries, additionalParams: record.additionalParams ?? [:])
    }

    /// Whether a configuration calls the provider's own API (no `base_url`, or the provider's).
    /// Only those fall back to the organization's provider key: a configuration pointing at
    /// another host must carry its own, or anyone allowed to create configurations could send
    /// the organization's key to a host of their choosing.
    static func callsTheProvider(_ params: JSONObject?, _ provider: ModelProvider) -> Bool {
        guard var base = params?["base_url"]?.stringValue, !base.isEmpty else { return true }
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        let official = provider == .anthropic ? AnthropicAdapter.defaultBaseURL : OpenAIAdapter.defaultBaseURL
        return base.lowercased() == official
    }

    /// The organization's key for a provider slot, if one is set.
    func credentialKey(slot: ModelProvider, organizationID: String, in tx: any StoreTransaction) async throws
        -> String?
    {
        guard let credential = try await Self.credential(slot: slot.rawValue, organizationID: organizationID, in: tx)
        else { return nil }
        return try await openKey(
            ownerKind: .providerCredential, ownerID: credential.id, in: tx, name: "provider credential \(slot.rawValue)"
        )
    }

    static func credential(slot: String, organizationID: String, in tx: any StoreTransaction) async throws
        -> ProviderCredentialRecord?
    {
        try await tx.list(
            ProviderCredentialRecord.self, organizationID: organizationID, filters: [.equals("slot", .text(slot))],
            order: .newestFirst, skip: 0, limit: 1
        ).items.first
    }

    private func openKey(ownerKind: VaultSecret.OwnerKind, ownerID: String, in tx: any StoreTransaction, name: String)
        async throws -> String?
    {
        guard let secret = try await tx.secrets(ownerKind: ownerKind, ownerID: ownerID).first else { return nil }
        // The error of a failed open says nothing of the value; it is replaced anyway.
        guard case .some(.string(let key)) = try? vault.reveal(secret) else {
            throw ModelResolutionError.unreadableKey(name: name)
        }
        return key
    }

    /// Seals `key` as the only secret of its owner (replacing an earlier one) and returns the
    /// alias shown in responses.
    func storeKey(
        _ key: String, ownerKind: VaultSecret.OwnerKind, ownerID: String, organizationID: String, at time: Date,
        in tx: any StoreTransaction
    ) async throws -> String {
        try await tx.deleteSecrets(ownerKind: ownerKind, ownerID: ownerID)
        let alias = "vault:" + UUIDText.new()
        let sealed = try vault.seal(.string(key), alias: alias, owner: ownerKind.rawValue + "/" + ownerID)
        try await tx.insertSecret(
            VaultSecret(
                id: alias, organizationID: organizationID, ownerKind: ownerKind, ownerID: ownerID, name: "api_key",
                sealed: sealed, createdAt: time))
        return alias
    }
}

/// The endpoints a prompt-driven run uses (`ModelResolver.models(for:in:)`).
public struct RunModels: Sendable {
    /// The main agent: the run's, else the organization's default; nil when there is none.
    public var main: ModelEndpoint?
    /// Asked "do these two screenshots show the same state?" before falling back.
    public var cacheDetection: ModelEndpoint?
    /// Tried in order when the main agent fails.
    public var fallbacks: [ModelEndpoint]

    public init(main: ModelEndpoint?, cacheDetection: ModelEndpoint?, fallbacks: [ModelEndpoint]) {
        self.main = main
        self.cacheDetection = cacheDetection
        self.fallbacks = fallbacks
    }
}

/// Why a model configuration cannot be used. Messages name the configuration, never a key.
public enum ModelResolutionError: Error, CustomStringConvertible, Equatable {
    case archived(id: String, name: String)
    case unsupportedProvider(id: String, name: String, provider: String)
    case unreadableKey(name: String)
    /// The run names a configuration that was deleted after it was created.
    case deleted(id: String, field: String)
    /// Neither the run, its workflow nor the organization names a model.
    case noModel

    public var description: String {
        switch self {
        case .archived(let id, let name):
            "model configuration '\(name)' (\(id)) is archived and is not used for new runs; unarchive it (is_archived: false) or choose another"
        case .unsupportedProvider(let id, let name, let provider):
            "model configuration '\(name)' (\(id)) names provider '\(provider)', which this server does not support (supported: \(ModelProvider.supportedList))"
        case .unreadableKey(let name):
            "the API key of \(name) cannot be opened with this server's vault.key (it was sealed with another); set the key again"
        case .deleted(let id, let field):
            "model configuration \(id) (model_metadata.\(field)) no longer exists; set another on the workflow or the run"
        case .noModel:
            "no model is configured for this run: set model_metadata.main_agent_model_id on the workflow, main_agent_model_id on the run, or mark a model configuration is_system_default"
        }
    }
}
