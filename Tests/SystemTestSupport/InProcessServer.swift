import ControlPlane
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport

/// One control-plane replica in this process on an ephemeral port, with the short protocol
/// clocks the end-to-end tests use, its lease sweeper and its cluster service (which does
/// nothing on SQLite).
public struct InProcessServer: Sendable {
    public let url: String
    public let store: any Store
    public let app: ControlPlane
    public let task: Task<Void, any Error>
    /// The admin key, when this start created the organization.
    public let adminKey: String?

    public static let timing = ControlPlane.AgentTiming(
        pollWait: 5, lease: 4, heartbeat: 1, offerTimeout: 10, lostGrace: 3, commandTimeout: 20)

    public static func start(
        dataDir: String, database: String? = nil, logger: Logger, fallbackInterval: Duration = .seconds(1)
    ) async throws -> InProcessServer {
        let directory = DataDirectory(path: dataDir)
        let store = try await directory.openStore(database: database, logger: logger)
        let key: String?
        let app: ControlPlane
        do {
            key = try await directory.bootstrap(store: store)
            app = try directory.controlPlane(store: store, publicURL: nil, agentTiming: timing, logger: logger)
        } catch {
            try? await store.close()
            throw error
        }
        let port = Mutex<Int?>(nil)
        let application = buildApplication(app, host: "127.0.0.1", port: 0) { bound in port.withLock { $0 = bound } }
        let sweeper = LeaseSweeper(app: app, interval: .milliseconds(200))
        let cluster = ClusterService(app: app, fallbackInterval: fallbackInterval)
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await application.runService() }
                group.addTask { try await cluster.run() }
                group.addTask {
                    while !Task.isCancelled {
                        _ = try? await sweeper.sweep()
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        guard await eventually(timeout: .seconds(20), { port.withLock { $0 } != nil }),
            let bound = port.withLock({ $0 })
        else {
            task.cancel()
            throw TestFailure("the server did not start")
        }
        return InProcessServer(url: "http://127.0.0.1:\(bound)", store: store, app: app, task: task, adminKey: key)
    }

    public func stop() async {
        task.cancel()
        _ = try? await task.value
        try? await store.close()
    }
}
