import Foundation
import Synchronization

/// A clock the test moves by hand, injected wherever the library takes `now`, so nothing
/// waits for real time to pass.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    /// Starts at a whole second, so every stored time round-trips exactly.
    public init(_ start: Date = Date(timeIntervalSince1970: 1_780_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// The clock as the library's `now` parameters take it.
    public var function: @Sendable () -> Date { { [self] in self.now } }
}
