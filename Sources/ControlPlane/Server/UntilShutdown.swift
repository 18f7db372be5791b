import Logging
import ServiceLifecycle

/// Runs `body` until the service group shuts down gracefully; the cancellation that shutdown
/// causes is a normal end, not an error.
func untilShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {}
}

/// Runs `pass` every `interval` until graceful shutdown. A failed pass is logged with
/// `failure` and the next one runs on time.
func repeatUntilShutdown(
    every interval: Duration, logger: Logger, failure: Logger.Message, _ pass: @escaping @Sendable () async throws -> Void
) async throws {
    try await untilShutdown {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                logger.warning(failure, metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }
}
