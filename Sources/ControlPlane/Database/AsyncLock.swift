import Synchronization

/// A first-in, first-out lock for async code: the SQLite store's single writer connection
/// is used by one transaction at a time, and waiters suspend instead of blocking a thread.
/// Taking a free lock does not suspend (no hop to an actor's executor), so an uncontended
/// transaction runs on the caller's thread from `BEGIN` to `COMMIT`.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Index of the next waiter to resume (a queue without shifting the array).
        var head = 0
    }

    private let state = Mutex(State())

    func lock() async {
        let acquired = state.withLock { state -> Bool in
            guard state.locked else {
                state.locked = true
                return true
            }
            return false
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            // Between the check above and here the lock may have been released: take it.
            let resumeNow = state.withLock { state -> Bool in
                guard state.locked else {
                    state.locked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Hands the lock to the longest waiter, or frees it.
    func unlock() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.head < state.waiters.count else {
                state.waiters.removeAll(keepingCapacity: true)
                state.head = 0
                state.locked = false
                return nil
            }
            let waiter = state.waiters[state.head]
            state.head += 1
            if state.head > 1024, state.head * 2 > state.waiters.count {
                state.waiters.removeFirst(state.head)
                state.head = 0
            }
            return waiter
        }
        next?.resume()
    }

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await lock()
        defer { unlock() }
        return try await body()
    }
}
