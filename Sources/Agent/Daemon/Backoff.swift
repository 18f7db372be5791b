/// Reconnect delays: full jitter (a random delay between 0 and the current cap), the cap
/// doubling from `base` to `maximum`, back to `base` after a healthy stretch. Full jitter
/// spreads agents out after a server restart instead of letting them reconnect in step.
public struct Backoff: Sendable {
    public var base: Double
    public var maximum: Double
    var attempt = 0

    public init(base: Double = 1, maximum: Double = 60) {
        self.base = base
        self.maximum = maximum
    }

    /// The next delay in seconds; `retryAfter` (from the server) is a floor.
    public mutating func next(
        retryAfter: Double? = nil, random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }
    )
        -> Double
    {
        let cap = min(maximum, base * Double(1 << min(attempt, 30)))
        attempt += 1
        let delay = random(0...cap)
        return max(delay, min(retryAfter ?? 0, maximum))
    }

    public mutating func reset() { attempt = 0 }
}
