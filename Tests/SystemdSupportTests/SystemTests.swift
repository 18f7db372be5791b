import Testing

/// The parent of the systemd and journald suites (notifier, watchdog, log output and
/// format, unit files), so `swift test --filter AgentTests.SystemTests` runs them all.
@Suite("System")
enum SystemTests {}
