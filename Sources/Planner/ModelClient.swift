import AsyncHTTPClient
import Logging

// PLACEHOLDER — replaced at merge by the real `ModelClient` (the adapters' engineer writes it
// in parallel). It only fixes the shape the control plane calls:
// `ModelClient(endpoint:httpClient:logger:)`, a `ModelAdapter`. Every call fails with
// `.invalidConfiguration(... "not built yet")`, so nothing pretends to have reached a model.

/// Picks the adapter for an endpoint's provider and adds the retry and timeout rules.
public struct ModelClient: ModelAdapter {
    public let endpoint: ModelEndpoint
    let httpClient: HTTPClient
    let logger: Logger

    public init(endpoint: ModelEndpoint, httpClient: HTTPClient, logger: Logger) {
        self.endpoint = endpoint
        self.httpClient = httpClient
        self.logger = logger
    }

    public func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
        throw .invalidConfiguration(configuration: endpoint.name, detail: "the model client is not built yet")
    }

    public func validate() async throws(ModelError) {
        throw .invalidConfiguration(configuration: endpoint.name, detail: "the model client is not built yet")
    }
}
