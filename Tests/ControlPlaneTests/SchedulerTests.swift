import ControlPlane
import CyberdeskAPI
import Foundation
import Testing

/// Who gets which run, as `Scheduler` documents it, without HTTP: machines ask with
/// `dispatch(toMachine:)`, runs end with `finish(...)`. Most rules are checked on every store
/// (`StoreFactory.all`); the SQL is the same, but PostgreSQL's locking is not.
@Suite("Scheduler")
struct SchedulerTests {
    // MARK: Eligibility

    @Test(
        "a machine that is not connected, or not available, gets nothing",
        arguments: [
            (MachineStatus.disconnected, true), (MachineStatus.error, true), (MachineStatus.connected, false),
        ])
    func ineligibleMachine(status: MachineStatus, isAvailable: Bool) async throws {
        try await SchedulerHarness.with { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("idle", status: status, isAvailable: isAvailable)
            let run = try await h.createRun(workflow)
            #expect(try await h.dispatch(machine) == nil)
            #expect(try await h.current(run).run.status == .scheduling)

            try await h.setMachine(machine, status: .connected, isAvailable: true)
            #expect(try await h.next(machine) == run.id)
        }
    }

    @Test("a machine takes only its own organization's runs", arguments: StoreFactory.all)
    func organizationBoundary(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let foreign = try await h.machine("foreign", organizationID: Records.id())
            let run = try await h.createRun(workflow)
            #expect(try await h.dispatch(foreign) == nil)
            let own = try await h.machine("own")
            #expect(try await h.next(own) == run.id)
        }
    }

    @Test("dispatching to an unknown machine is an error", arguments: StoreFactory.all)
    func unknownMachine(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let error = await #expect(throws: ControlPlaneError.self) {
                try await h.scheduler.dispatch(toMachine: Records.id())
            }
            guard case .notFound? = error else {
                Issue.record("expected notFound, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("dispatch assigns the run to the machine and the machine is busy until it ends", arguments: StoreFactory.all)
    func dispatchAssigns(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("worker")
            let first = try await h.createRun(workflow)
            let second = try await h.createRun(workflow)

            let dispatch = try #require(try await h.dispatch(machine))
            #expect(dispatch.run.id == first.id)
            let stored = try await h.current(first)
            #expect(stored.assignedMachineID == machine.id)
            #expect(stored.run.machineID == machine.id)
            #expect(stored.run.status == .scheduling, "the agent's claim starts it; dispatch only assigns")

            #expect(try await h.dispatch(machine) == nil, "one run at a time")
            try await h.finish(first)
            #expect(try await h.next(machine) == second.id)
        }
    }

    // MARK: Pinning and pools

    @Test("a pinned run waits for its machine; another idle machine does not take it", arguments: StoreFactory.all)
    func pinnedRunWaits(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let pinnedMachine = try await h.machine("pinned", status: .disconnected)
            let other = try await h.machine("other")
            let pinned = try await h.createRun(workflow, machine: pinnedMachine)

            #expect(try await h.dispatch(other) == nil)
            #expect(try await h.dispatch(pinnedMachine) == nil)

            try await h.setMachine(pinnedMachine, status: .connected)
            #expect(try await h.next(pinnedMachine) == pinned.id)

            // While it is busy, a second pinned run still waits for it.
            let waiting = try await h.createRun(workflow, machine: pinnedMachine)
            #expect(try await h.dispatch(other) == nil)
            try await h.finish(pinned)
            #expect(try await h.next(pinnedMachine) == waiting.id)
        }
    }

    @Test("a run needing several pools goes only to a machine in all of them", arguments: StoreFactory.all)
    func poolIntersection(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let billing = try await h.pool("billing")
            let europe = try await h.pool("europe")
            let onlyBilling = try await h.machine("only billing", pools: [billing])
            let both = try await h.machine("both", pools: [billing, europe])
            let none = try await h.machine("no pools")
            let needsBoth = try await h.createRun(workflow, pools: [billing, europe])

            #expect(try await h.dispatch(onlyBilling) == nil)
            #expect(try await h.dispatch(none) == nil)
            #expect(try await h.next(both) == needsBoth.id)

            let needsBilling = try await h.createRun(workflow, pools: [billing])
            #expect(try await h.dispatch(none) == nil)
            #expect(try await h.next(onlyBilling) == needsBilling.id)

            let anywhere = try await h.createRun(workflow)
            #expect(try await h.next(none) == anywhere.id, "a run without pools may run on any machine")
        }
    }

    // MARK: Order

    @Test("priority runs go first but never preempt a machine's current run", arguments: StoreFactory.all)
    func priority(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("worker")
            let normal1 = try await h.createRun(workflow)
            let normal2 = try await h.createRun(workflow)
            let urgent = try await h.createRun(workflow, priority: true)

            #expect(try await h.next(machine) == urgent.id)

            let moreUrgent = try await h.createRun(workflow, priority: true)
            #expect(try await h.dispatch(machine) == nil, "the machine finishes what it holds first")
            #expect(try await h.current(urgent).run.status == .scheduling)

            try await h.finish(urgent)
            #expect(try await h.next(machine) == moreUrgent.id)
            try await h.finish(moreUrgent)
            #expect(try await h.next(machine) == normal1.id)
            try await h.finish(normal1)
            #expect(try await h.next(machine) == normal2.id)
        }
    }

    @Test("among equal runs, the first created goes first", arguments: StoreFactory.all)
    func firstComeFirstServed(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let first = try await h.machine("first")
            let second = try await h.machine("second")
            var runs: [StoredRun] = []
            for _ in 0..<3 { runs.append(try await h.createRun(workflow)) }
            #expect(try await h.next(second) == runs[0].id)
            #expect(try await h.next(first) == runs[1].id)
            try await h.finish(runs[0], .taskFailed)
            #expect(try await h.next(second) == runs[2].id)
        }
    }

    // MARK: Sessions

    @Test("a session keeps its machine: its runs go there in order, unrelated runs go elsewhere", arguments: StoreFactory.all)
    func sessionReservesMachine(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let m1 = try await h.machine("m1")
            let m2 = try await h.machine("m2")
            let m3 = try await h.machine("m3")

            let opener = try await h.createRun(workflow, startSession: true)
            #expect(opener.run.sessionID == opener.id, "a session is named after the run that starts it")
            let sessionID = opener.id
            let second = try await h.createRun(workflow, sessionID: sessionID)
            let third = try await h.createRun(workflow, sessionID: sessionID)
            let unrelated = try await h.createRun(workflow)

            #expect(try await h.next(m1) == opener.id)
            #expect(try await h.current(m1).reservedSessionID == sessionID)
            #expect(try await h.session(sessionID)?.machineID == m1.id)

            // Other machines take unrelated work, never the session's next run.
            #expect(try await h.next(m2) == unrelated.id)
            #expect(try await h.dispatch(m3) == nil, "the second step waits for the first and belongs to m1")

            try await h.finish(opener)
            let lateUnrelated = try await h.createRun(workflow)
            #expect(try await h.next(m3) == lateUnrelated.id)
            #expect(try await h.next(m1) == second.id)
            try await h.finish(second)

            let another = try await h.createRun(workflow)
            #expect(try await h.next(m1) == third.id, "the session's runs come before older unrelated ones")
            try await h.finish(third)

            // The session is still open: the machine stays reserved and takes nothing unrelated.
            #expect(try await h.dispatch(m1) == nil)
            #expect(try await h.current(m1).reservedSessionID == sessionID)
            try await h.finish(unrelated)
            #expect(try await h.next(m2) == another.id)
        }
    }

    @Test("a session run waits while an earlier run of its session is unfinished, even with priority", arguments: StoreFactory.all)
    func sessionRunWaitsForPredecessor(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let offline = try await h.machine("offline", status: .disconnected)
            let idle = try await h.machine("idle")
            // The opener is pinned to a machine that is offline, so the session is not bound yet.
            let opener = try await h.createRun(workflow, machine: offline, startSession: true)
            let follower = try await h.createRun(workflow, sessionID: opener.id, priority: true)

            #expect(try await h.dispatch(idle) == nil)

            try await h.setMachine(offline, status: .connected)
            #expect(try await h.next(offline) == opener.id)
            try await h.finish(opener)
            #expect(try await h.dispatch(idle) == nil, "the session is bound to the opener's machine now")
            #expect(try await h.next(offline) == follower.id)
        }
    }

    @Test("a run pinned to one machine never runs on another, even when it joins a session bound elsewhere", arguments: StoreFactory.all)
    func pinnedRunInForeignSession(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let m1 = try await h.machine("m1")
            let m2 = try await h.machine("m2")
            let opener = try await h.createRun(workflow, startSession: true)
            #expect(try await h.next(m1) == opener.id)
            try await h.finish(opener)

            let joined: StoredRun
            do {
                joined = try await h.createRun(workflow, machine: m2, sessionID: opener.id)
            } catch {
                return  // Refusing the contradiction at creation is a fine answer too.
            }
            let taken = try await h.next(m1)
            #expect(taken != joined.id)
        }
    }

    @Test(
        "release_session_after frees the machine whatever the run's end",
        arguments: [RunStatus.success, .taskFailed, .error, .cancelled])
    func releaseSessionAfter(status: RunStatus) async throws {
        try await SchedulerHarness.with { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let opener = try await h.createRun(workflow, startSession: true)
            let unrelated = try await h.createRun(workflow)
            let closer = try await h.createRun(workflow, sessionID: opener.id, releaseSessionAfter: true)

            #expect(try await h.next(machine) == opener.id)
            try await h.finish(opener)
            #expect(try await h.next(machine) == closer.id, "the session's run before the older unrelated one")
            try await h.finish(closer, status)

            #expect(try await h.current(machine).reservedSessionID == nil)
            #expect(try await h.session(opener.id)?.isOpen == false)
            #expect(try await h.next(machine) == unrelated.id)

            let error = await #expect(throws: ControlPlaneError.self) {
                try await h.createRun(workflow, sessionID: opener.id)
            }
            guard case .badRequest? = error else {
                Issue.record("joining a released session: expected badRequest, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("a session released before it was bound leaves its machine free", arguments: StoreFactory.all)
    func releaseBeforeDispatch(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let only = try await h.createRun(workflow, startSession: true, releaseSessionAfter: true)
            let unrelated = try await h.createRun(workflow)
            try await h.finish(only, .cancelled)
            #expect(try await h.session(only.id)?.isOpen == false)
            #expect(try await h.next(machine) == unrelated.id)
            #expect(try await h.current(machine).reservedSessionID == nil)
        }
    }

    // MARK: Chains

    @Test("a chain runs back to back on one machine and resolves $ref inputs from earlier steps", arguments: StoreFactory.all)
    func chainWithReferences(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let fetch = try await h.workflow(name: "fetch")
            let enter = try await h.workflow(name: "enter")
            let report = try await h.workflow(name: "report")
            let m1 = try await h.machine("m1")
            let m2 = try await h.machine("m2")
            let (sessionID, steps) = try await h.chain([
                (fetch, ["patient": "Ada"]),
                (enter, ["value": ["$ref": "step1.outputs.result"], "note": "literal"]),
                (
                    report,
                    [
                        "nested": ["deep": ["$ref": "step2.outputs.record.code"]],
                        "list": [["$ref": "step1.outputs.result"], "x"],
                    ]
                ),
            ])
            #expect(steps.map(\.run.sessionID) == [sessionID, sessionID, sessionID])
            #expect(steps.map(\.chainIndex) == [1, 2, 3])
            let unrelated = try await h.createRun(fetch)

            #expect(try await h.next(m1) == steps[0].id)
            #expect(try await h.next(m2) == unrelated.id)
            try await h.finish(unrelated)
            try await h.finish(steps[0], output: ["result": "42"])
            #expect(try await h.dispatch(m2) == nil, "the chain stays on m1")

            let second = try #require(try await h.dispatch(m1))
            #expect(second.run.id == steps[1].id)
            #expect(second.inputs == ["value": "42", "note": "literal"])
            #expect(try await h.current(steps[1]).run.inputValues == ["value": "42", "note": "literal"])
            try await h.finish(steps[1], output: ["record": ["code": 7]])

            let third = try #require(try await h.dispatch(m1))
            #expect(third.run.id == steps[2].id)
            #expect(third.inputs == ["nested": ["deep": 7], "list": ["42", "x"]])
            try await h.finish(steps[2])

            // The last step released the session.
            #expect(try await h.session(sessionID)?.isOpen == false)
            #expect(try await h.current(m1).reservedSessionID == nil)
            let after = try await h.createRun(fetch)
            #expect(try await h.next(m1) == after.id)
        }
    }

    @Test("a $ref can name a step by its session alias", arguments: StoreFactory.all)
    func referenceByAlias(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let opener = try await h.createRun(workflow, startSession: true, alias: "lookup")
            let user = try await h.createRun(
                workflow, inputs: ["id": ["$ref": "lookup.outputs.patient_id"]], sessionID: opener.id)
            #expect(try await h.next(machine) == opener.id)
            try await h.finish(opener, output: ["patient_id": "P-7"])
            let dispatch = try #require(try await h.dispatch(machine))
            #expect(dispatch.run.id == user.id)
            #expect(dispatch.inputs == ["id": "P-7"])
        }
    }

    @Test("a missing $ref ends that run as error naming the reference, and dispatch moves on", arguments: StoreFactory.all)
    func missingReference(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let (_, steps) = try await h.chain([
                (workflow, [:]),
                (workflow, ["value": ["$ref": "step1.outputs.missing"]]),
                (workflow, ["plain": "yes"]),
            ])
            #expect(try await h.next(machine) == steps[0].id)
            try await h.finish(steps[0], output: ["result": "42"])

            #expect(try await h.next(machine) == steps[2].id)
            let failed = try await h.current(steps[1])
            #expect(failed.run.status == .error)
            #expect(failed.run.endedAt != nil)
            let message = try #require(failed.run.error?.first)
            #expect(message.contains("step1.outputs.missing"), "\(message)")
        }
    }

    @Test(
        "a $ref to a step that did not succeed, or to no step, fails the run",
        arguments: [
            ("step1.outputs.result", RunStatus.taskFailed, "ended task_failed"),
            ("step9.outputs.result", RunStatus.success, "no step named 'step9'"),
            ("step1.result", RunStatus.success, "must look like"),
        ])
    func badReferences(reference: String, firstEnd: RunStatus, expected: String) async throws {
        try await SchedulerHarness.with { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let (_, steps) = try await h.chain([(workflow, [:]), (workflow, ["value": ["$ref": .string(reference)]])])
            #expect(try await h.next(machine) == steps[0].id)
            try await h.finish(steps[0], firstEnd, output: ["result": "42"])
            #expect(try await h.dispatch(machine) == nil)
            let failed = try await h.current(steps[1])
            #expect(failed.run.status == .error)
            #expect(failed.run.error?.first?.contains(expected) == true, "\(String(describing: failed.run.error))")
            #expect(failed.run.error?.first?.contains(reference) == true)
        }
    }

    @Test("when the failed $ref run was the one to release the session, the machine takes other work at once", arguments: StoreFactory.all)
    func failedReleasingReferenceMovesOn(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let (sessionID, steps) = try await h.chain([
                (workflow, [:]), (workflow, ["value": ["$ref": "step1.outputs.missing"]]),
            ])
            let unrelated = try await h.createRun(workflow)
            #expect(try await h.next(machine) == steps[0].id)
            try await h.finish(steps[0], output: ["result": "42"])

            let next = try await h.next(machine)
            #expect(try await h.current(steps[1]).run.status == .error)
            #expect(try await h.session(sessionID)?.isOpen == false)
            #expect(next == unrelated.id)
        }
    }

    @Test("a $ref value is checked against the workflow's input_schema at dispatch", arguments: StoreFactory.all)
    func referenceSchemaCheckedAtDispatch(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let producer = try await h.workflow(name: "producer")
            let consumer = try await h.workflow(
                name: "consumer",
                inputSchema: #"{"type": "object", "properties": {"count": {"type": "integer"}}}"#)
            let machine = try await h.machine("m1")
            let (_, steps) = try await h.chain([
                (producer, [:]), (consumer, ["count": ["$ref": "step1.outputs.result"]]),
            ])
            #expect(try await h.next(machine) == steps[0].id)
            try await h.finish(steps[0], output: ["result": "not a number"])

            let dispatch = try await h.dispatch(machine)
            let status = try await h.current(steps[1]).run.status
            #expect(dispatch == nil)
            #expect(status == .error)
        }
    }

    @Test("keep_session_after_completion keeps the machine reserved after the last step", arguments: StoreFactory.all)
    func keepSession(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let m1 = try await h.machine("m1")
            let m2 = try await h.machine("m2")
            let (sessionID, steps) = try await h.chain([(workflow, [:]), (workflow, [:])], keepSession: true)
            #expect(steps.map(\.run.releaseSessionAfter) == [false, false])

            #expect(try await h.next(m1) == steps[0].id)
            try await h.finish(steps[0])
            #expect(try await h.next(m1) == steps[1].id)
            try await h.finish(steps[1])

            let unrelated = try await h.createRun(workflow)
            #expect(try await h.dispatch(m1) == nil)
            #expect(try await h.current(m1).reservedSessionID == sessionID)
            #expect(try await h.next(m2) == unrelated.id)

            let later = try await h.createRun(workflow, sessionID: sessionID)
            #expect(try await h.next(m1) == later.id)
        }
    }

    @Test("a second chain in the same session resolves stepN to its own steps", arguments: StoreFactory.all)
    func secondChainInSession(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let (sessionID, first) = try await h.chain(
                [(workflow, [:]), (workflow, ["value": ["$ref": "step1.outputs.result"]])], keepSession: true)
            #expect(try await h.next(machine) == first[0].id)
            try await h.finish(first[0], output: ["result": "first chain"])
            #expect(try await h.dispatch(machine)?.inputs == ["value": "first chain"])
            try await h.finish(first[1])

            // POST /v1/runs/chain with the session_id of the kept session.
            let (_, second) = try await h.chain(
                [(workflow, [:]), (workflow, ["value": ["$ref": "step1.outputs.result"]])], session: sessionID)
            #expect(try await h.next(machine) == second[0].id)
            try await h.finish(second[0], output: ["result": "second chain"])
            let dispatch = try #require(try await h.dispatch(machine))
            #expect(dispatch.run.id == second[1].id)
            #expect(dispatch.inputs == ["value": "second chain"])
        }
    }

    // MARK: Retry and finish

    @Test("retrying a finished run starts attempt 2 of the same run, which can be dispatched again", arguments: StoreFactory.all)
    func retry(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let run = try await h.createRun(workflow, inputs: ["a": 1])
            #expect(try await h.next(machine) == run.id)
            try await h.finish(run, .error, output: ["partial": true])

            let retried = try await h.runs.retry(runID: run.id, organizationID: h.organizationID, with: RunRetry())
            #expect(retried.id == run.id)
            #expect(retried.attempt == 2)
            #expect(retried.run.status == .scheduling)
            #expect(retried.assignedMachineID == nil)
            #expect(retried.run.outputData == nil)
            #expect(retried.run.endedAt == nil)
            #expect(retried.run.inputValues == ["a": 1])

            let dispatch = try #require(try await h.dispatch(machine))
            #expect(dispatch.run.id == run.id)
            #expect(dispatch.run.attempt == 2)

            let error = await #expect(throws: ControlPlaneError.self) {
                try await h.runs.retry(runID: run.id, organizationID: h.organizationID, with: RunRetry())
            }
            guard case .conflict? = error else {
                Issue.record("retrying an unfinished run: expected conflict, got \(String(describing: error))")
                return
            }
        }
    }

    @Test("finishing deletes the run's secrets and is idempotent", arguments: StoreFactory.all)
    func finishIsIdempotent(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let machine = try await h.machine("m1")
            let run = try await h.createRun(workflow, sensitive: ["password": "hunter2", "db": ["user": "root"]])
            #expect(try await h.store.secrets(ofRun: run.id).map(\.name) == ["db.user", "password"])
            #expect(try await h.next(machine) == run.id)

            let finished = try await h.finish(run, .success, output: ["result": "ok"])
            #expect(finished.run.status == .success)
            #expect(finished.run.endedAt == h.clock.now)
            #expect(try await h.store.secrets(ofRun: run.id).isEmpty)

            let endedAt = finished.run.endedAt
            let again = try await h.finish(run, .error, output: ["result": "other"])
            #expect(again.run.status == .success)
            #expect(again.run.endedAt == endedAt)
            #expect(again.run.outputData == ["result": "ok"])
            #expect(try await h.current(run).run.status == .success)
        }
    }

    @Test("cancelling a waiting run deletes its secrets and it is never dispatched", arguments: StoreFactory.all)
    func cancelWaitingRun(store: StoreFactory) async throws {
        try await SchedulerHarness.with(factory: store) { h in
            let workflow = try await h.workflow()
            let run = try await h.createRun(workflow, sensitive: ["password": "hunter2"])
            try await h.finish(run, .cancelled)
            #expect(try await h.store.secrets(ofRun: run.id).isEmpty)
            let machine = try await h.machine("m1")
            #expect(try await h.dispatch(machine) == nil)
        }
    }

    // MARK: Inputs

    @Test(
        "dispatched inputs: run values over machine parameters over pool parameters",
        arguments: [true, false])
    func mergedInputs(runNamesPool: Bool) async throws {
        try await SchedulerHarness.with { h in
            let workflow = try await h.workflow()
            let pool = try await h.pool("billing", parameters: ["a": "pool", "b": "pool", "c": "pool"])
            let machine = try await h.machine("m1", parameters: ["a": "machine", "b": "machine"], pools: [pool])
            let run = try await h.createRun(workflow, pools: runNamesPool ? [pool] : [], inputs: ["a": "run"])
            let dispatch = try #require(try await h.dispatch(machine))
            #expect(dispatch.run.id == run.id)
            #expect(dispatch.inputs == ["a": "run", "b": "machine", "c": "pool"])
            #expect(dispatch.run.run.inputValues == ["a": "run"], "the run keeps only its own inputs")
        }
    }
}
