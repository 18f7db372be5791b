import ControlPlane
import CyberdeskAPI
import Foundation
import ServerTestSupport
import Testing

/// A `RunFactory` and a `Scheduler` over a fresh store, with one organization and a
/// hand-moved clock. Machines are connected by saving `status = .connected` through the
/// store, as tests do until the agent protocol connects them.
struct SchedulerHarness: Sendable {
    let store: any Store
    let runs: RunFactory
    let scheduler: Scheduler
    let clock: TestClock
    let organizationID: String

    static func with<T: Sendable>(
        factory: StoreFactory = .sqlite, _ body: (SchedulerHarness) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        return try await factory.withStore { store in
            let clock = TestClock()
            let organizationID = Records.id()
            try await store.transaction {
                try await $0.insertOrganization(Organization(id: organizationID, name: "acme", createdAt: clock.now))
            }
            let vault = try Vault.loadOrCreate(keyFile: directory.path + "/vault.key")
            let blobs = try FileBlobStore(directory: directory.path + "/blobs")
            let harness = SchedulerHarness(
                store: store, runs: RunFactory(store: store, blobs: blobs, vault: vault, now: clock.function),
                scheduler: Scheduler(store: store, logger: .silent, now: clock.function), clock: clock,
                organizationID: organizationID)
            return try await body(harness)
        }
    }

    // MARK: Setup through the store

    func workflow(name: String = "workflow", inputSchema: String? = nil) async throws -> Workflow {
        let workflow = Records.workflow(organizationID: organizationID, name: name, inputSchema: inputSchema)
        try await store.insert([workflow])
        return workflow
    }

    func pool(_ name: String, parameters: JSONObject? = nil) async throws -> Pool {
        let pool = Records.pool(organizationID: organizationID, name: name, parameters: parameters)
        try await store.insert([pool])
        return pool
    }

    func machine(
        _ name: String, status: MachineStatus = .connected, isAvailable: Bool = true, parameters: JSONObject? = nil,
        pools: [Pool] = [], organizationID: String? = nil
    ) async throws -> Machine {
        let machine = Records.machine(
            organizationID: organizationID ?? self.organizationID, name: name, status: status,
            isAvailable: isAvailable, parameters: parameters)
        try await store.transaction { tx async throws in
            try await tx.insert(machine)
            try await tx.setPools(pools.map(\.id), ofMachine: machine.id)
        }
        return machine
    }

    /// Sets the machine's status and availability the way the agent protocol will.
    func setMachine(_ machine: Machine, status: MachineStatus, isAvailable: Bool = true) async throws {
        try await store.transaction { tx async throws in
            guard var current = try await tx.fetch(Machine.self, id: machine.id, organizationID: nil, forUpdate: true)
            else { throw ControlPlaneError.notFound("machine \(machine.id)") }
            current.status = status
            current.isAvailable = isAvailable
            try await tx.save(current)
        }
    }

    // MARK: Runs

    func request(
        _ workflow: Workflow, machine: Machine? = nil, pools: [Pool] = [], inputs: JSONObject? = nil,
        sensitive: JSONObject? = nil, sessionID: String? = nil, startSession: Bool = false, alias: String? = nil,
        releaseSessionAfter: Bool? = nil, priority: Bool = false, chainIndex: Int? = nil
    ) -> RunFactory.Request {
        var request = RunFactory.Request(
            RunCreate(
                workflowID: workflow.id, machineID: machine?.id, poolIDs: pools.map(\.id), inputValues: inputs,
                sensitiveInputValues: sensitive, sessionID: sessionID, startSession: startSession, sessionAlias: alias,
                releaseSessionAfter: releaseSessionAfter, isPriority: priority))
        request.chainIndex = chainIndex
        return request
    }

    /// Creates one run; the clock moves a second first, so creation times differ too.
    func createRun(
        _ workflow: Workflow, machine: Machine? = nil, pools: [Pool] = [], inputs: JSONObject? = nil,
        sensitive: JSONObject? = nil, sessionID: String? = nil, startSession: Bool = false, alias: String? = nil,
        releaseSessionAfter: Bool? = nil, priority: Bool = false
    ) async throws -> StoredRun {
        clock.advance(by: 1)
        let single = request(
            workflow, machine: machine, pools: pools, inputs: inputs, sensitive: sensitive, sessionID: sessionID,
            startSession: startSession, alias: alias, releaseSessionAfter: releaseSessionAfter, priority: priority)
        return try await runs.create([single], organizationID: organizationID)[0]
    }

    /// A chain as `POST /v1/runs/chain` builds it: one new session, steps numbered from 1 and
    /// named `stepN`, the last one releasing the session unless `keepSession`.
    /// With `session`, the chain continues that open session instead of starting one.
    func chain(
        _ steps: [(Workflow, JSONObject)], machine: Machine? = nil, keepSession: Bool = false, session: String? = nil
    ) async throws -> (sessionID: String, runs: [StoredRun]) {
        clock.advance(by: 1)
        let sessionID = session ?? Records.id()
        let requests = steps.enumerated().map { index, step in
            request(
                step.0, machine: machine, inputs: step.1, sessionID: sessionID, alias: "step\(index + 1)",
                releaseSessionAfter: index == steps.count - 1 && !keepSession, chainIndex: index + 1)
        }
        let created = try await runs.create(
            requests, organizationID: organizationID, newSessionID: session == nil ? sessionID : nil)
        return (sessionID, created)
    }

    /// The run the machine gets next, or nil.
    func dispatch(_ machine: Machine) async throws -> Scheduler.Dispatch? {
        try await scheduler.dispatch(toMachine: machine.id)
    }

    /// The id of the run the machine gets next, or nil.
    func next(_ machine: Machine) async throws -> String? {
        try await dispatch(machine)?.run.id
    }

    @discardableResult
    func finish(_ run: StoredRun, _ status: RunStatus = .success, output: JSONObject? = nil) async throws -> StoredRun {
        clock.advance(by: 1)
        return try await scheduler.finish(
            runID: run.id, organizationID: organizationID, status: status, output: output)
    }

    func current(_ run: StoredRun) async throws -> StoredRun {
        try #require(try await store.fetch(StoredRun.self, id: run.id, organizationID: organizationID))
    }

    func current(_ machine: Machine) async throws -> Machine {
        try #require(try await store.fetch(Machine.self, id: machine.id, organizationID: nil))
    }

    func session(_ id: String) async throws -> SessionRecord? {
        try await store.transaction { try await $0.session(id: id, forUpdate: false) }
    }
}
