import Logging
import ServiceLifecycle

/// Sends `STOPPING=1` as soon as graceful shutdown begins, whatever began it: SIGTERM from
/// `systemctl stop`, or the daemon's own decision (a drain, a revoked credential) through
/// `ServiceGroup.triggerGracefulShutdown()`. In the second case it is what moves the unit to
/// "deactivating" at once, with `TimeoutStopSec=` in force and the watchdog disarmed, while
/// the daemon finishes its current step; in both it sets the status line.
///
/// Put it last in the `ServiceGroup`: the group signals shutdown in reverse order, so this
/// service hears it first, sends the message and returns, and only then does the daemon's
/// own service start winding down.
public struct StoppingNotificationService: Service {
    let notifier: SystemdNotifier
    let status: String?
    let logger: Logger

    /// `status` becomes the unit's `STATUS=` line during shutdown.
    public init(notifier: SystemdNotifier, status: String? = "stopping", logger: Logger) {
        self.notifier = notifier
        self.status = status
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is going down without a graceful phase
        }
        do {
            try notifier.stopping(status: status)
        } catch {
            logger.warning("cannot tell systemd the daemon is stopping", metadata: ["error": "\(error)"])
        }
    }
}
