#if canImport(Glibc)
    import Glibc
#endif

/// A wall-clock instant for log lines, formatted with libc's calendar functions so that
/// logging needs neither Foundation nor a shared formatter object.
public struct LogTimestamp: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int
    /// Nanoseconds within that second.
    public var nanoseconds: Int

    public init(seconds: Int, nanoseconds: Int = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The current time (CLOCK_REALTIME).
    public static func now() -> LogTimestamp {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return LogTimestamp(seconds: Int(now.tv_sec), nanoseconds: Int(now.tv_nsec))
    }

    /// `2025-11-29T09:45:00.123Z`: UTC, so lines from machines in different zones sort
    /// and compare as they are.
    public var iso8601UTC: String {
        var time = time_t(seconds)
        var fields = tm()
        gmtime_r(&time, &fields)
        let date =
            "\(Self.digits(Int(fields.tm_year) + 1900, 4))-\(Self.digits(Int(fields.tm_mon) + 1, 2))-"
            + Self.digits(Int(fields.tm_mday), 2)
        return "\(date)T\(Self.timeOfDay(fields))\(millisecondsSuffix)Z"
    }

    /// `09:45:00.123` in the local time zone: what a person at the terminal compares with
    /// their clock.
    public var localTimeOfDay: String {
        var time = time_t(seconds)
        var fields = tm()
        localtime_r(&time, &fields)
        return Self.timeOfDay(fields) + millisecondsSuffix
    }

    private var millisecondsSuffix: String { "." + Self.digits(nanoseconds / 1_000_000, 3) }

    private static func timeOfDay(_ fields: tm) -> String {
        "\(digits(Int(fields.tm_hour), 2)):\(digits(Int(fields.tm_min), 2)):\(digits(Int(fields.tm_sec), 2))"
    }

    /// `value` left-padded with zeros to `width`.
    private static func digits(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
