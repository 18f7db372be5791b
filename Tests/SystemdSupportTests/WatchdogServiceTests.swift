import Logging
import ServiceLifecycle
import Synchronization
import SystemdSupport
import Testing

extension SystemTests {
    /// The watchdog and stopping services inside a real `ServiceGroup`, against a real socket.
    @Suite("WatchdogService")
    struct WatchdogServiceTests {
        let logger = Logger(label: "watchdog-test") { _ in SwiftLogNoOpLogHandler() }

        @Test("pings every half period until shutdown; STOPPING=1 goes out as shutdown begins")
        func pingsUntilShutdown() async throws {
            let listener = try NotifyDatagramListener(abstract: false)
            // A 20 ms watchdog: pings every 10 ms.
            let notifier = try SystemdNotifier(
                environment: ["NOTIFY_SOCKET": listener.notifySocket, "WATCHDOG_USEC": "20000"])
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: WatchdogService(notifier: notifier, logger: logger)),
                        .init(service: StoppingNotificationService(notifier: notifier, status: nil, logger: logger)),
                    ],
                    logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                for _ in 0..<3 {
                    #expect(try await listener.receive() == "WATCHDOG=1")
                }
                await group.triggerGracefulShutdown()
                var datagram = try await listener.receive()
                while datagram == "WATCHDOG=1" { datagram = try await listener.receive() }
                #expect(datagram == "STOPPING=1")
                try await tasks.waitForAll()
            }
        }

        @Test("no ping while the daemon reports itself unhealthy")
        func withheldWhileUnhealthy() async throws {
            let listener = try NotifyDatagramListener(abstract: true)
            let notifier = try SystemdNotifier(
                environment: ["NOTIFY_SOCKET": listener.notifySocket, "WATCHDOG_USEC": "20000"])
            let checks = Mutex(0)
            let watchdog = WatchdogService(notifier: notifier, logger: logger) {
                checks.withLock { $0 += 1 }
                return false
            }
            let group = ServiceGroup(configuration: .init(services: [watchdog], logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let deadline = ContinuousClock.now + .seconds(10)
                while checks.withLock({ $0 }) < 3, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(2))
                }
                #expect(checks.withLock { $0 } >= 3)
                #expect(try listener.pending() == nil)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }

        @Test("without WATCHDOG_USEC it sends nothing and ends with the group")
        func withoutWatchdog() async throws {
            let listener = try NotifyDatagramListener(abstract: false)
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
            #expect(notifier.watchdogInterval == nil)
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: WatchdogService(notifier: notifier, logger: logger))], logger: logger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(try listener.pending() == nil)
        }
    }
}
