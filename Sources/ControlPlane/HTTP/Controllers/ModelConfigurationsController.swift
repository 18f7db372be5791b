import CyberdeskAPI
import FoundationEssentials
import Planner

/// `/v1/model-configurations`: the models prompt-driven runs use. An `api_key` is sealed in
/// the vault on write; answers carry only `api_key_alias`.
struct ModelConfigurationsController {
    func register(_ api: APIRouter) {
        api.add(.get, "/v1/model-configurations") { call in
            let items = try await call.app.store.read { tx in
                try await tx.list(
                    ModelConfigurationRecord.self, organizationID: call.organizationID, filters: [],
                    order: .oldestFirst, skip: 0, limit: 10_000
                ).items
            }
            return try .json(items)
        }

        api.add(.post, "/v1/model-configurations") { call in
            let create = try call.decode(ModelConfigurationCreate.self)
            try ModelConfigurationRules.check(name: create.name, field: "name")
            try ModelConfigurationRules.check(model: create.model)
            let provider = try ModelConfigurationRules.provider(create.provider)
            try ModelConfigurationRules.check(
                temperature: create.temperature, maxTokens: create.maxTokens, timeoutSeconds: create.timeoutSeconds,
                maxRetries: create.maxRetries)
            try ModelConfigurationRules.check(additionalParams: create.additionalParams)
            let apiKey = try ModelConfigurationRules.apiKey(create.apiKey)
            let time = Timestamp.truncated(call.app.now())
            var record = ModelConfigurationRecord(
                id: UUIDText.new(), organizationID: call.organizationID, name: create.name, provider: provider,
                model: create.model, description: create.description, temperature: create.temperature,
                maxTokens: create.maxTokens, timeoutSeconds: create.timeoutSeconds, maxRetries: create.maxRetries,
                additionalParams: create.additionalParams,
                agentHarnessVersionString: create.agentHarnessVersionString,
                isComputerUseModel: create.isComputerUseModel ?? false, isArchived: create.isArchived ?? false,
                isSystemDefault: create.isSystemDefault ?? false, createdAt: time, updatedAt: time)
            let resolver = call.app.models
            record = try await call.app.store.transaction { [record] tx in
                var record = record
                if let apiKey {
                    record.apiKeyAlias = try await resolver.storeKey(
                        apiKey, ownerKind: .modelConfiguration, ownerID: record.id,
                        organizationID: record.organizationID, at: time, in: tx)
                }
                if record.isSystemDefault {
                    try await Self.clearDefault(
                        organizationID: record.organizationID, except: record.id, at: time, in: tx)
                }
                try await tx.insert(record)
                return record
            }
            return try .json(record, status: .created)
        }

        api.add(.get, "/v1/model-configurations/:id") { call in
            try .json(try await call.record(ModelConfigurationRecord.self, named: "model configuration"))
        }

        api.add(.patch, "/v1/model-configurations/:id") { call in
            let id = try call.id()
            let patch = PatchBody(try call.object())
            let time = Timestamp.truncated(call.app.now())
            let resolver = call.app.models
            let record = try await call.app.store.transaction { tx in
                guard
                    var record = try await tx.fetch(
                        ModelConfigurationRecord.self, id: id, organizationID: call.organizationID, forUpdate: true)
                else { throw ControlPlaneError.notFound("model configuration \(id) not found") }
                if case .some(let name) = try patch.string("name") {
                    guard let name else { throw ModelConfigurationRules.notNull("name") }
                    try ModelConfigurationRules.check(name: name, field: "name")
                    record.name = name
                }
                if case .some(let provider) = try patch.string("provider") {
                    guard let provider else { throw ModelConfigurationRules.notNull("provider") }
                    record.provider = try ModelConfigurationRules.provider(provider)
                }
                if case .some(let model) = try patch.string("model") {
                    guard let model else { throw ModelConfigurationRules.notNull("model") }
                    try ModelConfigurationRules.check(model: model)
                    record.model = model
                }
                if case .some(let value) = try patch.string("description") { record.description = value }
                if case .some(let value) = try patch.string("agent_harness_version_string") {
                    record.agentHarnessVersionString = value
                }
                if case .some(let value) = try patch.number("temperature") { record.temperature = value }
                if case .some(let value) = try patch.integer("max_tokens") { record.maxTokens = value }
                if case .some(let value) = try patch.number("timeout_seconds") { record.timeoutSeconds = value }
                if case .some(let value) = try patch.integer("max_retries") { record.maxRetries = value }
                try ModelConfigurationRules.check(
                    temperature: record.temperature, maxTokens: record.maxTokens,
                    timeoutSeconds: record.timeoutSeconds, maxRetries: record.maxRetries)
                if case .some(let params) = try patch.dictionary("additional_params") {
                    try ModelConfigurationRules.check(additionalParams: params)
                    record.additionalParams = params
                }
                if case .some(let flag) = try patch.bool("is_computer_use_model") {
                    record.isComputerUseModel = flag ?? false
                }
                if case .some(let flag) = try patch.bool("is_archived") { record.isArchived = flag ?? false }
                if case .some(let flag) = try patch.bool("is_system_default") {
                    record.isSystemDefault = flag ?? false
                    if record.isSystemDefault {
                        try await Self.clearDefault(
                            organizationID: record.organizationID, except: record.id, at: time, in: tx)
                    }
                }
                let clear = (try patch.bool("clear_api_key") ?? nil) ?? false
                if case .some(let given) = try patch.string("api_key"),
                    let key = try ModelConfigurationRules.apiKey(given)
                {
                    guard !clear else {
                        throw ControlPlaneError.badRequest(
                            "api_key and clear_api_key: true exclude each other; send one of them")
                    }
                    record.apiKeyAlias = try await resolver.storeKey(
                        key, ownerKind: .modelConfiguration, ownerID: record.id,
                        organizationID: record.organizationID, at: time, in: tx)
                } else if clear {
                    try await tx.deleteSecrets(ownerKind: .modelConfiguration, ownerID: record.id)
                    record.apiKeyAlias = nil
                }
                record.updatedAt = time
                try await tx.save(record)
                return record
            }
            return try .json(record)
        }

        api.add(.delete, "/v1/model-configurations/:id") { call in
            let id = try call.id()
            try await call.app.store.transaction { tx in
                guard
                    try await tx.delete(ModelConfigurationRecord.self, id: id, organizationID: call.organizationID)
                else { throw ControlPlaneError.notFound("model configuration \(id) not found") }
                try await tx.deleteSecrets(ownerKind: .modelConfiguration, ownerID: id)
            }
            return .empty
        }
    }

    /// At most one default per organization (a unique index): the old default is cleared
    /// first, in the same transaction.
    static func clearDefault(organizationID: String, except id: String, at time: Date, in tx: any StoreTransaction)
        async throws
    {
        let defaults = try await tx.list(
            ModelConfigurationRecord.self, organizationID: organizationID,
            filters: [.equals("is_system_default", .bool(true))], order: .oldestFirst, skip: 0, limit: 100)
        for var other in defaults.items where other.id != id {
            other.isSystemDefault = false
            other.updatedAt = time
            try await tx.save(other)
        }
    }
}

/// What a model configuration may hold. Refusals are 400s naming the field and what it
/// accepts, so a configuration never fails later in a run for a reason known now.
enum ModelConfigurationRules {
    static func notNull(_ field: String) -> RequestValidationError {
        RequestValidationError(loc: ["body", .string(field)], msg: "\(field) cannot be null", type: "string_type")
    }

    static func check(name: String, field: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty, name.utf8.count <= 200 else {
            throw ControlPlaneError.badRequest("\(field) must be a non-empty text of at most 200 bytes")
        }
    }

    static func check(model: String) throws {
        guard !model.trimmingCharacters(in: .whitespaces).isEmpty, model.utf8.count <= 200 else {
            throw ControlPlaneError.badRequest(
                "model must name the provider's model (e.g. 'claude-sonnet-4-5' or 'gpt-4o'), at most 200 bytes")
        }
    }

    static func provider(_ value: String) throws -> String {
        guard let provider = ModelProvider(rawValue: value) else {
            throw ControlPlaneError.badRequest(
                "provider '\(value)' is not supported by this server; supported: \(ModelProvider.supportedList)")
        }
        return provider.rawValue
    }

    static func check(temperature: Double?, maxTokens: Int?, timeoutSeconds: Double?, maxRetries: Int?) throws {
        if let temperature, !(0...2).contains(temperature) {
            throw ControlPlaneError.badRequest("temperature must be between 0 and 2 (got \(temperature))")
        }
        if let maxTokens, maxTokens < 1 {
            throw ControlPlaneError.badRequest("max_tokens must be at least 1 (got \(maxTokens))")
        }
        if let timeoutSeconds, !(timeoutSeconds > 0 && timeoutSeconds <= 3600) {
            throw ControlPlaneError.badRequest(
                "timeout_seconds must be more than 0 and at most 3600 (got \(timeoutSeconds))")
        }
        if let maxRetries, !(0...10).contains(maxRetries) {
            throw ControlPlaneError.badRequest("max_retries must be between 0 and 10 (got \(maxRetries))")
        }
    }

    /// The keys the adapters read are checked; others are kept as given.
    static func check(additionalParams params: JSONObject?) throws {
        guard let params else { return }
        if let value = params["base_url"], value != .null {
            guard case .string(let text) = value, let url = URL(string: text),
                let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                let host = url.host, !host.isEmpty
            else {
                throw ControlPlaneError.badRequest(
                    "additional_params.base_url must be an http:// or https:// URL with a host, such as https://api.anthropic.com or http://10.0.0.7:8000"
                )
            }
        }
        if let value = params["coordinate_space"], value != .null {
            guard case .string(let text) = value, CoordinateSpace(rawValue: text) != nil else {
                throw ControlPlaneError.badRequest(
                    "additional_params.coordinate_space must be 'pixels' or 'normalized_1000'")
            }
        }
        if let value = params["tool_version"], value != .null {
            guard case .string(let text) = value, !text.isEmpty else {
                throw ControlPlaneError.badRequest(
                    "additional_params.tool_version must be a string such as 'computer_20250124'")
            }
        }
        if let value = params["max_image_long_side"], value != .null {
            guard case .int(let side) = value, (64...8192).contains(side) else {
                throw ControlPlaneError.badRequest(
                    "additional_params.max_image_long_side must be an integer between 64 and 8192")
            }
        }
    }

    /// A key to seal, or nil for none. An empty key is refused rather than stored.
    static func apiKey(_ value: String?) throws -> String? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 4096 else {
            throw ControlPlaneError.badRequest(
                "api_key must be a non-empty key of at most 4096 bytes; to remove a key send clear_api_key: true")
        }
        return trimmed
    }
}

extension PatchBody {
    /// A JSON number (integer or not); `.some(nil)` when null.
    func number(_ key: String) throws -> Double?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .int(let number): return .some(Double(number))
        case .double(let number): return .some(number)
        default:
            throw RequestValidationError(
                loc: ["body", .string(key)], msg: "Input should be a valid number", type: "float_type")
        }
    }

    func integer(_ key: String) throws -> Int?? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return .some(nil)
        case .int(let number) where number >= Int64(Int32.min) && number <= Int64(Int32.max):
            return .some(Int(number))
        case .double(let number) where number.rounded() == number && abs(number) < 1e9:
            return .some(Int(number))
        default:
            throw RequestValidationError(
                loc: ["body", .string(key)], msg: "Input should be a valid integer", type: "int_type")
        }
    }
}

extension ModelConfigurationRules {
    /// Each id of `metadata` must be a model configuration of the organization that is not
    /// archived; a 400 names the field (`model_metadata.main_agent_model_id`). Returns the
    /// metadata with ids normalized.
    static func check(
        metadata: WorkflowModelMetadata?, field: String, organizationID: String, in tx: any StoreTransaction
    ) async throws -> WorkflowModelMetadata? {
        guard let metadata else { return nil }
        var checked = metadata
        checked.mainAgentModelID = try await check(
            configuration: metadata.mainAgentModelID, field: "\(field).main_agent_model_id",
            organizationID: organizationID, in: tx)
        checked.cacheDetectionModelID = try await check(
            configuration: metadata.cacheDetectionModelID, field: "\(field).cache_detection_model_id",
            organizationID: organizationID, in: tx)
        checked.fallbackModel1ID = try await check(
            configuration: metadata.fallbackModel1ID, field: "\(field).fallback_model_1_id",
            organizationID: organizationID, in: tx)
        checked.fallbackModel2ID = try await check(
            configuration: metadata.fallbackModel2ID, field: "\(field).fallback_model_2_id",
            organizationID: organizationID, in: tx)
        return checked
    }

    static func check(configuration id: String?, field: String, organizationID: String, in tx: any StoreTransaction)
        async throws -> String?
    {
        guard let id else { return nil }
        guard let normalized = UUIDText.normalized(id),
            let record = try await tx.fetch(
                ModelConfigurationRecord.self, id: normalized, organizationID: organizationID, forUpdate: false)
        else {
            throw ControlPlaneError.badRequest(
                "\(field): '\(id)' is not a model configuration of this organization; create one with model_configurations.create or list them with model_configurations.list"
            )
        }
        guard !record.isArchived else {
            throw ControlPlaneError.badRequest(
                "\(field): " + ModelResolutionError.archived(id: record.id, name: record.name).description)
        }
        return normalized
    }

    /// A `model_metadata` member of a PATCH body: `.some(nil)` when null.
    static func metadata(_ patch: PatchBody) throws -> WorkflowModelMetadata?? {
        guard let value = patch.object["model_metadata"] else { return nil }
        if value == .null { return .some(nil) }
        guard case .object = value else {
            throw RequestValidationError(
                loc: ["body", "model_metadata"], msg: "Input should be a valid dictionary", type: "dict_type")
        }
        do {
            let data = try APIJSON.encoder().encode(value)
            return .some(try APIJSON.decoder().decode(WorkflowModelMetadata.self, from: data))
        } catch let error as DecodingError {
            var failure = RequestValidationError.from(error)
            failure.items = failure.items.map { item in
                var item = item
                item.loc = ["body", "model_metadata"] + item.loc.dropFirst()
                return item
            }
            throw failure
        }
    }
}
