import Agent
import Foundation
import Logging
import ServiceLifecycle
import SystemdSupport

/// Wiring of the daemon's logging and systemd notifications: `<N>` lines when stderr is the
/// journal, coloured lines on a terminal, plain lines otherwise.
enum AgentLogging {
    static func bootstrap(level: String, foreground: Bool) -> Logger {
        let parsed = Logger.Level(rawValue: level) ?? .info
        // The journal when stderr is the journal, colours on a terminal, plain lines otherwise;
        // `--foreground` only documents the intent (the daemon never forks).
        _ = foreground
        return StandardErrorLogHandler.bootstrap(label: "cyberdesk-agent", level: parsed)
    }

    /// Notifications to systemd when `NOTIFY_SOCKET` is set; no-ops otherwise.
    struct Notifier: Sendable {
        let notifier: SystemdNotifier?
        let logger: Logger

        func ready() { _ = try? notifier?.ready(status: "connected") }
        func status(_ text: String) { _ = try? notifier?.status(text) }
        func stopping() { _ = try? notifier?.stopping(status: "stopping") }

        func watchdog() -> (any Service)? {
            guard let notifier, notifier.watchdogInterval != nil else { return nil }
            return WatchdogService(notifier: notifier, logger: logger)
        }

        /// Sends STOPPING=1 as graceful shutdown begins (it must be the group's last service,
        /// the first to hear the signal).
        func stoppingService() -> (any Service)? {
            guard let notifier, notifier.isEnabled else { return nil }
            return StoppingNotificationService(notifier: notifier, logger: logger)
        }
    }

    static func notifier(logger: Logger) -> Notifier {
        do {
            return Notifier(notifier: try SystemdNotifier(), logger: logger)
        } catch {
            logger.warning("systemd notifications disabled", metadata: ["error": "\(error)"])
            return Notifier(notifier: nil, logger: logger)
        }
    }
}
