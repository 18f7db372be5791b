// TEMPORARY (removed when the adapters land): lets the loop compile before the adapters exist.
import AsyncHTTPClient
import CyberdeskAPI
import Logging

extension ComputerAction {
    public static func parse(_ input: JSONObject, screen: DisplaySize, space: CoordinateSpace, configuration: String)
        throws(ModelError) -> ComputerAction
    {
        throw .malformed(configuration: configuration, detail: "not built yet")
    }
}

public struct ModelClient: ModelAdapter {
    let endpoint: ModelEndpoint
    public init(endpoint: ModelEndpoint, httpClient: HTTPClient, logger: Logger) { self.endpoint = endpoint }
    public func complete(_ request: ModelRequest) async throws(ModelError) -> ModelTurn {
        throw .invalidConfiguration(configuration: endpoint.name, detail: "not built yet")
    }
    public func validate() async throws(ModelError) {
        throw .invalidConfiguration(configuration: endpoint.name, detail: "not built yet")
    }
}
