#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How long ``ModelTransport`` waits between attempts, and with what it waits.
///
/// Exponential backoff with jitter (base 1 s, doubling, capped at 30 s, each delay drawn from
/// its upper half so that many runs rate-limited together do not retry in step), unless the
/// provider sent `retry-after` (seconds or an HTTP date), which is honoured up to 60 s.
/// `sleep`, `jitter` and `now` are injected so tests check the delays without waiting them.
public struct RetryPolicy: Sendable {
    public var baseDelay: Double
    public var maxDelay: Double
    /// A `retry-after` longer than this is cut to it: a provider asking for ten minutes would
    /// otherwise hold a run far past what anyone watching it expects.
    public var maxRetryAfter: Double
    /// Waits `seconds`; throws when the calling task is cancelled (as `Task.sleep` does).
    public var sleep: @Sendable (_ seconds: Double) async throws -> Void
    /// A number in 0...1.
    public var jitter: @Sendable () -> Double
    /// The wall clock, for `retry-after` given as an HTTP date.
    public var now: @Sendable () -> Date

    public init(
        baseDelay: Double = 1, maxDelay: Double = 30, maxRetryAfter: Double = 60,
        sleep: @escaping @Sendable (_ seconds: Double) async throws -> Void = { seconds in
            try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded())))
        },
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.sleep = sleep
        self.jitter = jitter
        self.now = now
    }

    public static let standard = RetryPolicy()

    /// The wait before retry number `retry` (1 for the first retry).
    public func delay(beforeRetry retry: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return max(0, min(retryAfter, maxRetryAfter)) }
        let ceiling = min(maxDelay, baseDelay * Double(1 << max(0, min(retry - 1, 30))))
        return ceiling * (0.5 + 0.5 * max(0, min(1, jitter())))
    }

    /// `retry-after` as seconds from now: a number of seconds, or an HTTP date
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`). Nil when absent or unreadable.
    public func retryAfterSeconds(_ header: String?) -> Double? {
        guard let text = header.map(WireJSON.trimmed), !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite { return max(0, seconds) }
        guard let date = Self.parseHTTPDate(text) else { return nil }
        return max(0, date.timeIntervalSince(now()))
    }

    /// IMF-fixdate (RFC 9110 §5.6.7), the form every current server sends.
    static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else {
            return nil
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let clock = parts[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (1...31).contains(day), (0..<24).contains(clock[0]), (0..<60).contains(clock[1]),
            (0...60).contains(clock[2])
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let month = monthIndex + 1
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Date(timeIntervalSince1970: Double(days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]))
    }
}
