import FoundationEssentials
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps replicas that share a PostgreSQL database in step:
/// - sends this replica's wakes and cancel notices with NOTIFY after they happen (they are
///   raised after the change commits), coalesced into one transaction per batch;
/// - LISTENs for the other replicas' and applies them to this replica's hub, so a run
///   created on replica A wakes an agent long-polling replica B at once;
/// - once a second looks at the queue of waiting runs and, when it changed, wakes the polls
///   that can take them (`WakePlanner`), so offers still flow when notifications are lost
///   or unavailable (a reconnecting listener, PgBouncer in transaction mode) and when a
///   woken machine took another run than the one it was woken for; a single server with
///   the embedded store runs this part only;
/// - samples the database clock, which every replica judges leases by.
public struct ClusterService: Service {
    static let channel = "cyberdesk_hub"

    let app: ControlPlane
    let fallbackInterval: Duration
    /// How often waiting runs are planned again although the queue did not change.
    static let replanInterval: Duration = .seconds(5)

    public init(app: ControlPlane, fallbackInterval: Duration = .seconds(1)) {
        self.app = app
        self.fallbackInterval = fallbackInterval
    }

    public func run() async throws {
        let cluster = app.store.cluster
        try await untilShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let cluster {
                    group.addTask { await publish(cluster) }
                    group.addTask { await listen(cluster) }
                }
                group.addTask { await pollQueue(cluster) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func publish(_ cluster: any ClusterChannel) async {
        while !Task.isCancelled {
            let events = await app.hub.nextOutgoing()
            do {
                try await cluster.notify(channel: Self.channel, payloads: events)
            } catch {
                // The other replicas' fallback poll still finds new runs within a second.
                app.logger.warning("cannot notify the other replicas", metadata: ["error": "\(error)"])
            }
        }
    }

    private func listen(_ cluster: any ClusterChannel) async {
        let hub = app.hub
        while !Task.isCancelled {
            do {
                try await cluster.listen(channel: Self.channel) {
                    // Anything sent while not listening is covered by one look now.
                    hub.wakeAllHere()
                } _: { payload in
                    if hub.isQueueChange(payload) {
                        await WakePlanner(app: app).wakeForQueue()
                    } else {
                        hub.receive(payload)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                app.logger.warning("lost the notification channel; listening again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func pollQueue(_ cluster: (any ClusterChannel)?) async {
        var last: [Int64] = []
        var planned = ContinuousClock.now
        var clockSampled = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            if ContinuousClock.now - clockSampled > .seconds(10), let cluster, let clock = app.databaseClock {
                do {
                    try await clock.sample(cluster)
                    clockSampled = .now
                } catch {
                    app.logger.warning("cannot read the database clock", metadata: ["error": "\(error)"])
                }
            }
            if let signature = try? await app.store.transaction({ try await $0.waitingRunsSignature() }) {
                // Planned when the queue changed, and every few seconds while runs wait: a
                // woken machine may have declined (it was draining) while others stay quiet.
                if signature.first ?? 0 > 0, signature != last || ContinuousClock.now - planned > Self.replanInterval {
                    await WakePlanner(app: app).wakeForQueue()
                    planned = .now
                }
                last = signature
            }
            try? await Task.sleep(for: fallbackInterval)
        }
    }
}

/// The database server's clock, read as this process's clock plus a sampled offset, so that
/// replicas whose clocks drift still agree on when a lease expires.
public final class DatabaseClock: Sendable {
    private let offset = Mutex<Double>(0)

    public init() {}

    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    /// Measures the offset against the database, halving the round trip.
    func sample(_ cluster: any ClusterChannel) async throws {
        let before = Date()
        let database = try await cluster.currentTime()
        let after = Date()
        let local = before.addingTimeInterval(after.timeIntervalSince(before) / 2)
        offset.withLock { $0 = database.timeIntervalSince(local) }
    }
}
