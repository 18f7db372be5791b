import Logging
import ServiceLifecycle

/// Sends `WATCHDOG=1` every ``SystemdNotifier/watchdogInterval`` until graceful shutdown,
/// so systemd restarts the daemon when it hangs (`WatchdogSec=` in the unit).
///
/// Its place in the `ServiceGroup` does not matter: systemd disarms the watchdog as soon as
/// the unit is stopping (SIGTERM sent, or `STOPPING=1` received), and from then on only
/// `TimeoutStopSec=` limits how long the daemon may take to finish its step. Without a
/// watchdog (no `WATCHDOG_USEC`) the service just waits for shutdown, because a service
/// that returns early would end the whole group.
///
/// `isHealthy` lets the daemon withhold pings when its own loop is stuck (for example no
/// poll has completed for minutes): a ping from a timer alone proves only that the
/// process is scheduled, not that it does its work.
public struct WatchdogService<ServiceClock: Clock>: Service where ServiceClock.Duration == Duration {
    let notifier: SystemdNotifier
    let clock: ServiceClock
    let logger: Logger
    let isHealthy: @Sendable () async -> Bool

    /// A watchdog on `clock`, which tests replace to avoid waiting in real time.
    public init(
        notifier: SystemdNotifier,
        clock: ServiceClock,
        logger: Logger,
        isHealthy: @escaping @Sendable () async -> Bool = { true }
    ) {
        self.notifier = notifier
        self.clock = clock
        self.logger = logger
        self.isHealthy = isHealthy
    }

    public func run() async throws {
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        logger.debug("systemd watchdog enabled", metadata: ["watchdog.interval": "\(interval)"])
        await cancelWhenGracefulShutdown { await pingPeriodically(every: interval) }
    }

    /// Pings, then sleeps, until cancelled; the first ping goes out at once so a slow start
    /// does not eat into the first period.
    private func pingPeriodically(every interval: Duration) async {
        while !Task.isCancelled {
            await ping()
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// One `WATCHDOG=1`, unless the daemon says it is unhealthy. A failed send is logged
    /// and retried on the next tick: the watchdog itself must not stop the daemon.
    private func ping() async {
        guard await isHealthy() else {
            logger.warning("systemd watchdog ping withheld: the daemon reports itself unhealthy")
            return
        }
        do {
            try notifier.watchdog()
        } catch {
            logger.warning("systemd watchdog ping failed", metadata: ["error": "\(error)"])
        }
    }
}

extension WatchdogService where ServiceClock == ContinuousClock {
    /// A watchdog on the real clock.
    public init(
        notifier: SystemdNotifier,
        logger: Logger,
        isHealthy: @escaping @Sendable () async -> Bool = { true }
    ) {
        self.init(notifier: notifier, clock: ContinuousClock(), logger: logger, isHealthy: isHealthy)
    }
}
