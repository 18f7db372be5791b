import ControlPlane
import CyberdeskAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Planner
import TestSupport
import Testing

/// The real control plane application (`buildApplication`) on a fresh data directory,
/// listening on 127.0.0.1 with a port the kernel picks, and a clock the test moves.
/// Everything the server logs is kept in `logs`.
public struct TestServer: Sendable {
    public let port: Int
    public let app: ControlPlane
    public let directory: TemporaryDirectory
    public let dataDirectory: DataDirectory
    /// The first organization's admin key, from `DataDirectory.bootstrap`.
    public let adminKey: String
    public let clock: TestClock
    public let logs: LogCollector

    public var store: any Store { app.store }

    /// `modelAdapter` stands in for the model client where a test cannot reach a model.
    public static func with<T: Sendable>(
        limits: ControlPlane.Limits = .init(),
        modelAdapter: @escaping @Sendable (ModelEndpoint, Logger) -> any ModelAdapter = ControlPlane
            .defaultModelAdapter,
        _ body: @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let logs = LogCollector()
        let logger = logs.logger()
        let dataDirectory = DataDirectory(path: directory.path)
        let store = try await dataDirectory.openStore(database: nil, logger: logger)
        do {
            let result = try await serve(
                store: store, directory: directory, dataDirectory: dataDirectory, limits: limits,
                modelAdapter: modelAdapter, logs: logs, body: body)
            try await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }

    private static func serve<T: Sendable>(
        store: any Store, directory: TemporaryDirectory, dataDirectory: DataDirectory, limits: ControlPlane.Limits,
        modelAdapter: @escaping @Sendable (ModelEndpoint, Logger) -> any ModelAdapter, logs: LogCollector,
        body: @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        let adminKey = try #require(try await dataDirectory.bootstrap(store: store))
        let clock = TestClock()
        let logger = logs.logger()
        let app = ControlPlane(
            store: store, blobs: try FileBlobStore(directory: dataDirectory.blobsPath),
            vault: try Vault.loadOrCreate(keyFile: dataDirectory.vaultKeyPath),
            signer: try URLSigner.loadOrCreate(keyFile: dataDirectory.signingKeyPath), limits: limits,
            logger: logger, now: clock.function, modelAdapter: modelAdapter)
        let (ports, announce) = AsyncStream.makeStream(of: Int.self)
        let application = buildApplication(app, host: "127.0.0.1", port: 0) { port in
            announce.yield(port)
            announce.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                defer { announce.finish() }
                try await application.run()
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                try await group.next()
                throw ServerDidNotStart()
            }
            let server = TestServer(
                port: port, app: app, directory: directory, dataDirectory: dataDirectory, adminKey: adminKey,
                clock: clock, logs: logs)
            let result = try await body(server)
            group.cancelAll()
            return result
        }
    }

    struct ServerDidNotStart: Error {}

    /// A key for a second organization (created on first use of its name).
    public func key(organization: String, name: String = "key") async throws -> (record: APIKeyRecord, key: String) {
        let (record, key) = try await KeyAdmin(store: store).createKey(organization: organization, name: name)
        return (record, key)
    }
}

/// Which credential a request carries.
public enum Credential: Sendable {
    case admin
    case none
    case key(String)
    /// A raw `Authorization` header value.
    case header(String)
}

/// A response as the client saw it.
public struct HTTPResult: Sendable, CustomStringConvertible {
    public var status: Int
    public var headers: HTTPFields
    public var body: [UInt8]

    public init(status: Int, headers: HTTPFields, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
    public var description: String { "\(status) \(text.prefix(500))" }

    public func json() throws -> JSONValue {
        try APIJSON.decoder().decode(JSONValue.self, from: Data(body))
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try APIJSON.decoder().decode(type, from: Data(body))
    }

    /// `detail` of a business error (`{"detail": "..."}`).
    public var detail: String? { try? decode(ErrorDetail.self).detail }

    public func header(_ name: String) -> String? {
        HTTPField.Name(name).flatMap { headers[$0] }
    }
}

extension TestServer {
    /// One request on its own connection, the way an SDK client with a fresh pool sends it.
    public func request(
        _ method: HTTPRequest.Method, _ path: String, as credential: Credential = .admin, json: JSONValue? = nil,
        bytes: [UInt8]? = nil, headers extra: [String: String] = [:]
    ) async throws -> HTTPResult {
        var headers = HTTPFields()
        switch credential {
        case .admin: headers[.authorization] = "Bearer \(adminKey)"
        case .key(let key): headers[.authorization] = "Bearer \(key)"
        case .header(let value): headers[.authorization] = value
        case .none: break
        }
        var body = bytes
        if let json {
            body = Array(try APIJSON.encoder().encode(json))
        }
        if body != nil { headers[.contentType] = "application/json" }
        for (name, value) in extra {
            headers[try #require(HTTPField.Name(name))] = value
        }
        let request = TestClient.Request(
            path, method: method, authority: "127.0.0.1:\(port)", headers: headers,
            body: body.map { ByteBuffer(bytes: $0) })
        let response = try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
            try await client.execute(request)
        }
        let bytes = response.body.map { Array($0.readableBytesView) } ?? []
        return HTTPResult(status: Int(response.status.code), headers: response.headers, body: bytes)
    }

    public func get(_ path: String, as credential: Credential = .admin) async throws -> HTTPResult {
        try await request(.get, path, as: credential)
    }

    public func post(_ path: String, _ json: JSONValue, as credential: Credential = .admin) async throws -> HTTPResult {
        try await request(.post, path, as: credential, json: json)
    }

    /// POSTs, requires `expected` and returns the response's JSON object.
    public func create(
        _ path: String, _ json: JSONValue, as credential: Credential = .admin, expected: Int = 201,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONObject {
        let response = try await post(path, json, as: credential)
        try #require(response.status == expected, "\(response)", sourceLocation: sourceLocation)
        return try #require(try response.json().objectValue, sourceLocation: sourceLocation)
    }

    public func workflow(
        _ extra: JSONObject = [:], as credential: Credential = .admin, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        var body: JSONObject = ["main_prompt": "Look up {patient}", "name": "lookup"]
        body.merge(extra) { _, new in new }
        let created = try await create("/v1/workflows", .object(body), as: credential, sourceLocation: sourceLocation)
        return try #require(created["id"]?.stringValue, sourceLocation: sourceLocation)
    }
}
