import ControlPlane
import CyberdeskAPI
import Foundation
import Synchronization
import ServerTestSupport
import Testing

/// Dispatch under real concurrency: several callers per machine (as several replicas whose
/// polls race) on a store whose transactions run in parallel (PostgreSQL's connection pool;
/// SQLite serializes them). No run may go to two machines or twice to one, and no machine
/// may hold two runs at once.
@Suite("Concurrent dispatch")
struct ConcurrentDispatchTests {
    struct Ledger {
        var dispatched: [String: Int] = [:]
        var busy: Set<String> = []
        var violations: [String] = []
        var finished = 0
    }

    final class SharedLedger: Sendable {
        let state = Mutex(Ledger())
    }

    @Test("racing dispatchers give every run exactly once and never two to one machine", arguments: StoreFactory.all)
    func racingDispatchers(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            var machines: [Machine] = []
            for index in 0..<6 { machines.append(try await h.machine("m\(index)")) }
            let runCount = 120
            let requests = (0..<runCount).map { _ in h.request(workflow) }
            let runs = try await h.runs.create(requests, organizationID: h.organizationID)
            let ledger = SharedLedger()

            try await withThrowingTaskGroup(of: Void.self) { group in
                for machine in machines {
                    for _ in 0..<3 {
                        group.addTask {
                            var idle = 0
                            while ledger.state.withLock({ $0.finished }) < runCount, idle < 2000 {
                                guard let dispatch = try await h.scheduler.dispatch(toMachine: machine.id) else {
                                    idle += 1
                                    try await Task.sleep(for: .milliseconds(1))
                                    continue
                                }
                                ledger.state.withLock { ledger in
                                    ledger.dispatched[dispatch.run.id, default: 0] += 1
                                    if !ledger.busy.insert(machine.id).inserted {
                                        ledger.violations.append("machine \(machine.id) got a second run")
                                    }
                                }
                                ledger.state.withLock { _ = $0.busy.remove(machine.id) }
                                try await h.scheduler.finish(
                                    runID: dispatch.run.id, organizationID: h.organizationID, status: .success)
                                ledger.state.withLock { $0.finished += 1 }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }

            let result = ledger.state.withLock { $0 }
            #expect(result.violations.isEmpty, "\(result.violations.prefix(5))")
            #expect(result.dispatched.count == runCount)
            #expect(result.dispatched.values.allSatisfy { $0 == 1 }, "a run was dispatched twice")
            for run in runs {
                #expect(try await h.current(run).run.status == .success)
            }
        }
    }
}
