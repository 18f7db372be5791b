import AsyncHTTPClient
import CyberdeskAPI
import Logging

/// The model the planner loop calls: the adapter for the endpoint's provider, with the retry
/// and timeout rules of ``ModelTransport`` (`max_retries`, `timeout_seconds`, backoff honouring
/// `retry-after`). Cheap to create per run; the `HTTPClient` is the server's, shared — made
/// with ``httpClientConfiguration()`` so that a refused connection is reported as one.
public struct ModelClient: ModelAdapter {
    /// The `HTTPClient` configuration model calls want. AsyncHTTPClient by default retries a
    /// failed connection establishment until the request's deadline, which turns "connection
    /// refused" (a wrong `base_url`, a local server that is down) into a timeout after
    /// `timeout_seconds`; this transport does its own retries, with backoff, and says why.
    public static func httpClientConfiguration() -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return configuration
    }

    /// The server's client for model calls, with ``httpClientConfiguration()``. Never shut
    /// down: it lives as long as the process.
    public static let sharedHTTPClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: httpClientConfiguration())

    public let endpoint: ModelEndpoint
    private let adapter: any ModelAdapter

    /// `retry` is injected by tests so backoffs take no time; the default waits for real.
    public init(endpoint: ModelEndpoint, httpClient: HTTPClient, logger: Logger, retry: RetryPolicy = .standard) {
        self.endpoint = endpoint
        var logger = logger
        logger[metadataKey: "model.configuration"] = "\(endpoint.name)"
        logger[metadataKey: "model.provider"] = "\(endpoint.provider.rawValue)"
        switch endpoint.provider {
        case .anthropic:
            adapter = AnthropicAdapter(endpoint: endpoint, httpClient: httpClient, logger: logger, retry: retry)
        case .openai:
            adapter = OpenAIAdapter(endpoint: endpoint, httpClient: httpClient, logger: logger, retry: retry)
        }
    }

    public func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
        try await adapter.complete(request)
    }

    public func validate() async throws(ModelError) {
        try await adapter.validate()
    }
}

extension ModelProvider {
    /// The provider named by a model configuration, or `.invalidConfiguration` listing the
    /// supported ones (a configuration may name any LangChain provider).
    public static func named(_ name: String, configuration: String) throws(ModelError) -> ModelProvider {
        guard let provider = ModelProvider(rawValue: name.lowercased()) else {
            throw .invalidConfiguration(
                configuration: configuration,
                detail: "provider '\(name.prefix(60))' is not supported (supported: \(supportedList))")
        }
        return provider
    }
}

extension ModelError: CustomStringConvertible {
    public var description: String { message }
}
