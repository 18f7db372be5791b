import ControlPlane
import CyberdeskAPI
import Foundation
import Logging
import Planner
import ServerTestSupport
import Synchronization
import Testing

/// Model configurations, provider credentials, workflow and run model metadata, over the
/// real HTTP API. Keys are checked where a customer would look for them: answers, logs and
/// every file of the data directory.
@Suite("Models API")
struct ModelAPITests {
    static let key = "sk-ant-test-0123456789abcdefXYZW"

    static func configuration(_ extra: JSONObject = [:]) -> JSONValue {
        var body: JSONObject = [
            "name": "claude", "provider": "anthropic", "model": "claude-sonnet-4-5", "temperature": 0,
            "max_tokens": 4096, "additional_params": ["tool_version": "computer_20250124"],
            "is_computer_use_model": true, "is_archived": false,
        ]
        body.merge(extra) { _, new in new }
        return .object(body)
    }

    /// Fails if `secret` is in any file under `path`, plain or base64-encoded.
    static func expectNowhere(_ secret: String, under path: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let forms = [secret, Data(secret.utf8).base64EncodedString()].map { Array($0.utf8) }
        let root = URL(fileURLWithPath: path)
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard let bytes = FileManager.default.contents(atPath: url.path) else { continue }
            let data = [UInt8](bytes)
            for form in forms where data.count >= form.count {
                let found = (0...(data.count - form.count)).contains { start in
                    data[start] == form[0] && Array(data[start..<(start + form.count)]) == form
                }
                #expect(!found, "the key is in \(url.path)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("a configuration's key is sealed: answers carry only an alias, the data dir never the key")
    func configurationLifecycle() async throws {
        try await TestServer.with { server in
            let created = try await server.create(
                "/v1/model-configurations", Self.configuration(["api_key": .string(Self.key)]))
            let id = try #require(created["id"]?.stringValue)
            #expect(created["api_key"] == nil)
            #expect(created["api_key_alias"]?.stringValue?.hasPrefix("vault:") == true)
            #expect(created["is_system_default"] == false)
            #expect(created["organization_id"]?.stringValue?.isEmpty == false)
            #expect(created["provider"] == "anthropic")

            let fetched = try await server.get("/v1/model-configurations/\(id)")
            #expect(fetched.status == 200)
            #expect(!fetched.text.contains(Self.key))
            let list = try await server.get("/v1/model-configurations")
            #expect(try list.json().arrayValue?.count == 1, "\(list)")
            #expect(!list.text.contains(Self.key))

            let renamed = try await server.request(
                .patch, "/v1/model-configurations/\(id)", json: ["name": "renamed", "max_retries": 4])
            #expect(renamed.status == 200, "\(renamed)")
            #expect(try renamed.json().objectValue?["name"] == "renamed")
            #expect(try renamed.json().objectValue?["api_key_alias"] == created["api_key_alias"])

            let organizationID = try #require(created["organization_id"]?.stringValue)
            let endpoint = try await server.store.read { tx in
                try await server.app.models.endpoint(configurationID: id, organizationID: organizationID, in: tx)
            }
            #expect(endpoint?.apiKey == Self.key)
            #expect(endpoint?.maxRetries == 4)
            #expect(endpoint?.timeoutSeconds == 120)
            #expect(endpoint?.provider == .anthropic)

            let cleared = try await server.request(
                .patch, "/v1/model-configurations/\(id)", json: ["clear_api_key": true])
            #expect(cleared.status == 200, "\(cleared)")
            #expect(try cleared.json().objectValue?["api_key_alias"] == nil)

            try Self.expectNowhere(Self.key, under: server.dataDirectory.path)
            #expect(!server.logs.all.joined(separator: "\n").contains(Self.key))

            #expect(try await server.request(.delete, "/v1/model-configurations/\(id)").status == 204)
            #expect(try await server.get("/v1/model-configurations/\(id)").status == 404)
        }
    }

    @Test("another organization's configuration is 404 and invisible")
    func isolation() async throws {
        try await TestServer.with { server in
            let created = try await server.create("/v1/model-configurations", Self.configuration())
            let id = try #require(created["id"]?.stringValue)
            let other = Credential.key(try await server.key(organization: "other").key)
            #expect(try await server.get("/v1/model-configurations/\(id)", as: other).status == 404)
            let patch = try await server.request(
                .patch, "/v1/model-configurations/\(id)", as: other, json: ["name": "stolen"])
            #expect(patch.status == 404)
            #expect(try await server.request(.delete, "/v1/model-configurations/\(id)", as: other).status == 404)
            #expect(try await server.get("/v1/model-configurations", as: other).json().arrayValue == [])
            #expect(try await server.get("/v1/model-configurations/\(id)").json().objectValue?["name"] == "claude")
            // Nor can it use it in a workflow.
            let workflow = try await server.post(
                "/v1/workflows", ["main_prompt": "x", "model_metadata": ["main_agent_model_id": .string(id)]],
                as: other)
            #expect(workflow.status == 400, "\(workflow)")
            #expect(workflow.detail?.contains("model_metadata.main_agent_model_id") == true)
        }
    }

    struct BadConfiguration: Sendable, CustomTestStringConvertible {
        var name: String
        var body: JSONObject
        var mentions: [String]
        var testDescription: String { name }
    }

    static let badConfigurations = [
        BadConfiguration(name: "provider", body: ["provider": "cohere"], mentions: ["cohere", "anthropic, openai"]),
        BadConfiguration(
            name: "base_url scheme", body: ["additional_params": ["base_url": "ftp://models.local"]],
            mentions: ["additional_params.base_url", "http"]),
        BadConfiguration(
            name: "base_url text", body: ["additional_params": ["base_url": "not a url"]],
            mentions: ["additional_params.base_url"]),
        BadConfiguration(
            name: "coordinate_space", body: ["additional_params": ["coordinate_space": "percent"]],
            mentions: ["coordinate_space", "normalized_1000"]),
        BadConfiguration(
            name: "tool_version", body: ["additional_params": ["tool_version": 20_250_124]], mentions: ["tool_version"]),
        BadConfiguration(name: "temperature", body: ["temperature": 7], mentions: ["temperature"]),
        BadConfiguration(name: "max_retries", body: ["max_retries": -1], mentions: ["max_retries"]),
    ]

    @Test("an unusable configuration is 400 naming the field", arguments: badConfigurations)
    func refused(bad: BadConfiguration) async throws {
        try await TestServer.with { server in
            let response = try await server.post("/v1/model-configurations", Self.configuration(bad.body))
            #expect(response.status == 400, "\(response)")
            for word in bad.mentions { #expect(response.detail?.contains(word) == true, "\(word): \(response)") }
            // The same through PATCH.
            let created = try await server.create("/v1/model-configurations", Self.configuration())
            let id = try #require(created["id"]?.stringValue)
            let patch = try await server.request(.patch, "/v1/model-configurations/\(id)", json: .object(bad.body))
            #expect(patch.status == 400, "\(patch)")
        }
    }

    @Test("one default per organization; an archived one is no default and refused for new runs")
    func systemDefault() async throws {
        try await TestServer.with { server in
            let first = try await server.create(
                "/v1/model-configurations", Self.configuration(["name": "a", "is_system_default": true]))
            let second = try await server.create(
                "/v1/model-configurations", Self.configuration(["name": "b", "is_system_default": true]))
            let firstID = try #require(first["id"]?.stringValue)
            let secondID = try #require(second["id"]?.stringValue)
            let organizationID = try #require(first["organization_id"]?.stringValue)
            #expect(
                try await server.get("/v1/model-configurations/\(firstID)").json().objectValue?["is_system_default"]
                    == false)
            #expect(second["is_system_default"] == true)
            let chosen = try await server.store.read {
                try await server.app.models.defaultConfigurationID(organizationID: organizationID, in: $0)
            }
            #expect(chosen == secondID)
            // A run that names no model gets the organization's default.
            let plainWorkflow = try await server.workflow()
            let plainRun = try await server.create("/v1/runs", ["workflow_id": .string(plainWorkflow)])
            let plainRunID = try #require(plainRun["id"]?.stringValue)
            let plainStored = try #require(
                try await server.store.read {
                    try await $0.fetch(StoredRun.self, id: plainRunID, organizationID: nil, forUpdate: false)
                }?.run)
            let models = try await server.store.read { try await server.app.models.models(for: plainStored, in: $0) }
            #expect(models.main?.configurationID == secondID)

            let archived = try await server.request(
                .patch, "/v1/model-configurations/\(secondID)", json: ["is_archived": true])
            #expect(archived.status == 200, "\(archived)")
            let none = try await server.store.read {
                try await server.app.models.defaultConfigurationID(organizationID: organizationID, in: $0)
            }
            #expect(none == nil)
            let noModels = try await server.store.read { try await server.app.models.models(for: plainStored, in: $0) }
            #expect(noModels.main == nil, "no model anywhere: the loop fails the run with ModelResolutionError.noModel")
            await #expect(throws: ModelResolutionError.self) {
                _ = try await server.store.read {
                    try await server.app.models.endpoint(
                        configurationID: secondID, organizationID: organizationID, in: $0)
                }
            }
            let workflowID = try await server.workflow()
            let run = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "main_agent_model_id": .string(secondID)])
            #expect(run.status == 400, "\(run)")
            #expect(run.detail?.contains("archived") == true, "\(run)")
        }
    }

    @Test("workflows and runs carry model_metadata; a run's main_agent_model_id overrides")
    func metadata() async throws {
        try await TestServer.with { server in
            let main = try #require(
                try await server.create("/v1/model-configurations", Self.configuration())["id"]?.stringValue)
            let fallback = try #require(
                try await server.create("/v1/model-configurations", Self.configuration(["name": "f"]))["id"]?
                    .stringValue)
            let workflow = try await server.create(
                "/v1/workflows",
                ["main_prompt": "Do it", "model_metadata": ["main_agent_model_id": .string(main)]])
            let workflowID = try #require(workflow["id"]?.stringValue)
            #expect(workflow["model_metadata"]?.objectValue?["main_agent_model_id"] == .string(main))

            let unknown = UUID().uuidString.lowercased()
            let bad = try await server.request(
                .patch, "/v1/workflows/\(workflowID)",
                json: ["model_metadata": ["fallback_model_1_id": .string(unknown)]])
            #expect(bad.status == 400, "\(bad)")
            #expect(bad.detail?.contains("model_metadata.fallback_model_1_id") == true, "\(bad)")

            let patched = try await server.request(
                .patch, "/v1/workflows/\(workflowID)",
                json: [
                    "model_metadata": ["main_agent_model_id": .string(main), "fallback_model_1_id": .string(fallback)]
                ])
            #expect(patched.status == 200, "\(patched)")
            let versions = try await server.get("/v1/workflows/\(workflowID)/versions").json().arrayValue ?? []
            #expect(versions.first?.objectValue?["model_metadata"]?.objectValue?["fallback_model_1_id"] == .null)
            #expect(
                versions.last?.objectValue?["model_metadata"]?.objectValue?["fallback_model_1_id"] == .string(fallback))

            let plain = try await server.create("/v1/runs", ["workflow_id": .string(workflowID)])
            #expect(plain["usage_metadata"] == .null, "usage_metadata is null until a model is used")
            #expect(plain["model_metadata"]?.objectValue?["main_agent_model_id"] == .string(main))
            #expect(plain["model_metadata"]?.objectValue?["fallback_model_1_id"] == .string(fallback))

            let override = try await server.create(
                "/v1/runs", ["workflow_id": .string(workflowID), "main_agent_model_id": .string(fallback)])
            #expect(override["model_metadata"]?.objectValue?["main_agent_model_id"] == .string(fallback))
            let runID = try #require(override["id"]?.stringValue)
            let stored = try await server.store.read {
                try await $0.fetch(StoredRun.self, id: runID, organizationID: nil, forUpdate: false)
            }
            #expect(stored?.run.mainAgentModelID == fallback)
            #expect(stored?.run.modelMetadata?.mainAgentModelID == fallback)

            // What the loop gets: the run's endpoints, the override first.
            let models = try await server.store.read {
                try await server.app.models.models(for: try #require(stored?.run), in: $0)
            }
            #expect(models.main?.configurationID == fallback)
            #expect(models.fallbacks.map(\.configurationID) == [fallback])
            #expect(models.cacheDetection == nil)
            #expect(try await server.request(.delete, "/v1/model-configurations/\(fallback)").status == 204)
            await #expect(throws: ModelResolutionError.deleted(id: fallback, field: "main_agent_model_id")) {
                _ = try await server.store.read {
                    try await server.app.models.models(for: try #require(stored?.run), in: $0)
                }
            }

            let missing = try await server.post(
                "/v1/runs", ["workflow_id": .string(workflowID), "main_agent_model_id": .string(unknown)])
            #expect(missing.status == 400, "\(missing)")
            #expect(missing.detail?.contains("main_agent_model_id") == true)
        }
    }

    // MARK: Provider credentials

    /// A fake of the model client (no model is reachable here): records the endpoints it was
    /// built for and answers `validate` as told.
    final class FakeModels: Sendable {
        let endpoints = Mutex<[ModelEndpoint]>([])
        let refuse: Bool

        init(refuse: Bool = false) { self.refuse = refuse }

        var factory: @Sendable (ModelEndpoint, Logger) -> any ModelAdapter {
            { endpoint, _ in
                self.endpoints.withLock { $0.append(endpoint) }
                return Adapter(name: endpoint.name, refuse: self.refuse)
            }
        }

        struct Adapter: ModelAdapter {
            var name: String
            var refuse: Bool
            func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
                throw .invalidConfiguration(configuration: name, detail: "fake")
            }
            func validate() async throws(ModelError) {
                if refuse { throw .unauthorized(configuration: name, detail: "HTTP 401 invalid x-api-key") }
            }
        }
    }

    @Test("provider credentials: set, list, validate through the chosen endpoint, delete")
    func providerCredentials() async throws {
        let models = FakeModels()
        try await TestServer.with(modelAdapter: models.factory) { server in
            let key = "sk-org-key-9876543210abcdWXYZ"
            let put = try await server.request(
                .put, "/v1/provider-credentials/anthropic", json: ["api_key": .string(key)])
            #expect(put.status == 200, "\(put)")
            let answer = try put.json().objectValue
            #expect(answer?["status"] == "active")
            #expect(answer?["display_metadata"]?.objectValue?["key_last4"] == "WXYZ")
            #expect(!put.text.contains(key))

            let list = try await server.get("/v1/provider-credentials").json().arrayValue ?? []
            #expect(list.compactMap { $0.objectValue?["slot"]?.stringValue }.sorted() == ["anthropic", "openai"])
            #expect(list.first { $0.objectValue?["slot"] == "openai" }?.objectValue?["status"] == "missing")

            let unsupported = try await server.request(.put, "/v1/provider-credentials/google", json: ["api_key": "k"])
            #expect(unsupported.status == 400)
            #expect(unsupported.detail?.contains("anthropic, openai") == true, "\(unsupported)")

            // No configuration: the provider's API with a small model and the credential's key.
            let plain = try await server.post("/v1/provider-credentials/anthropic/validate", [:])
            #expect(plain.status == 200, "\(plain)")
            #expect(try plain.json().objectValue?["ok"] == true)
            var used = try #require(models.endpoints.withLock { $0.last })
            #expect(used.apiKey == key)
            #expect(used.model == "claude-haiku-4-5")
            #expect(used.maxRetries == 0, "validation is one request")
            #expect(used.timeoutSeconds == 30)

            // A configuration of the provider's own API without its own key falls back to the
            // credential...
            let configuration = try await server.create(
                "/v1/model-configurations", Self.configuration(["is_system_default": true]))
            let configurationID = try #require(configuration["id"]?.stringValue)
            _ = try await server.post("/v1/provider-credentials/anthropic/validate", [:])
            used = try #require(models.endpoints.withLock { $0.last })
            #expect(used.configurationID == configurationID, "the organization's default is used")
            #expect(used.apiKey == key)
            // ...one pointing at another host does not: the organization's key would go there.
            let elsewhere = try await server.create(
                "/v1/model-configurations",
                Self.configuration(["name": "elsewhere", "additional_params": ["base_url": "http://10.0.0.7:8000"]]))
            let elsewhereID = try #require(elsewhere["id"]?.stringValue)
            _ = try await server.post(
                "/v1/provider-credentials/anthropic/validate?model_configuration_id=\(elsewhereID)", [:])
            used = try #require(models.endpoints.withLock { $0.last })
            #expect(used.configurationID == elsewhereID)
            #expect(used.apiKey == nil)

            let own = try await server.create(
                "/v1/model-configurations", Self.configuration(["name": "own", "api_key": .string(Self.key)]))
            let ownID = try #require(own["id"]?.stringValue)
            _ = try await server.post(
                "/v1/provider-credentials/anthropic/validate?model_configuration_id=\(ownID)", [:])
            used = try #require(models.endpoints.withLock { $0.last })
            #expect(used.configurationID == ownID)
            #expect(used.apiKey == Self.key)

            let wrongSlot = try await server.post(
                "/v1/provider-credentials/openai/validate?model_configuration_id=\(ownID)", [:])
            #expect(wrongSlot.status == 400, "\(wrongSlot)")

            let deleted = try await server.request(.delete, "/v1/provider-credentials/anthropic")
            #expect(deleted.status == 200, "\(deleted)")
            #expect(try deleted.json().objectValue?["status"] == "missing")
            #expect(try await server.request(.delete, "/v1/provider-credentials/anthropic").status == 404)
            try Self.expectNowhere(key, under: server.dataDirectory.path)
            try Self.expectNowhere(Self.key, under: server.dataDirectory.path)
            #expect(!server.logs.all.joined(separator: "\n").contains(key))
        }
    }

    @Test("a refused key marks the credential invalid with the model's error, never the key")
    func refusedKey() async throws {
        try await TestServer.with(modelAdapter: FakeModels(refuse: true).factory) { server in
            let key = "sk-bad-key-000011112222"
            _ = try await server.request(.put, "/v1/provider-credentials/openai", json: ["api_key": .string(key)])
            let response = try await server.post("/v1/provider-credentials/openai/validate", [:])
            #expect(response.status == 200, "\(response)")
            let answer = try #require(try response.json().objectValue)
            #expect(answer["ok"] == false)
            let check = try #require(answer["checks"]?.arrayValue?.first?.objectValue)
            #expect(check["is_auth_error"] == true)
            #expect(check["error"]?.stringValue?.contains("refused") == true)
            #expect(answer["credential"]?.objectValue?["status"] == "invalid")
            #expect(!response.text.contains(key))
            let other = Credential.key(try await server.key(organization: "other").key)
            let theirs = try await server.post("/v1/provider-credentials/openai/validate", [:], as: other)
            #expect(theirs.status == 400, "another organization has no credential: \(theirs)")
        }
    }
}
