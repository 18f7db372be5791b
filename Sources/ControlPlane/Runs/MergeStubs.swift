// TEMPORARY (removed when the model resources land).
import CyberdeskAPI
import Planner

struct ModelResolverStub: Sendable {
    func endpoint(configurationID: String, organizationID: String, in tx: any StoreTransaction) async throws
        -> ModelEndpoint?
    { nil }
    func defaultConfigurationID(organizationID: String, in tx: any StoreTransaction) async throws -> String? { nil }
}

extension ControlPlane {
    var models: ModelResolverStub { ModelResolverStub() }
    func promptImage(reference: String, organizationID: String) async throws -> (bytes: [UInt8], mediaType: String)? {
        nil
    }
}
