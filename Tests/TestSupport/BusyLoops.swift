import Foundation

/// Shell busy loops that keep the CPUs busy, so a niced X client lags behind its input. Each
/// loop ends by itself after `limit` (bash's `SECONDS`, not `timeout`: a test runner may block
/// SIGALRM, and spawned children inherit that mask), so none outlives a killed test by long;
/// `stop` ends them at once.
public final class BusyLoops: Sendable {
    private let children: [ChildProcess]

    public init(count: Int, limit: Duration = .seconds(300)) throws {
        guard let bash = XvfbServer.executable("bash") else { throw TestFailure("bash is not installed") }
        let seconds = limit.components.seconds
        children = try (0..<count).map { _ in
            try ChildProcess(bash, ["-c", "while ((SECONDS < \(seconds))); do :; done"], environment: [:])
        }
    }

    public func stop() async {
        for child in children { child.signal(SIGKILL) }
        for child in children { _ = await child.wait() }
    }
}
