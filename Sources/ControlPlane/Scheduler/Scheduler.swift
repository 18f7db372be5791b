import CyberdeskAPI
import FoundationEssentials
import Logging

/// Decides which run a machine executes next and moves runs through their terminal states.
/// It knows nothing of HTTP: the agent protocol calls `dispatch(toMachine:)` when a machine
/// asks for work, the API calls `finish(...)` to cancel, and tests call both directly.
///
/// The rules (PUBLIC-API.md, made precise):
/// - A machine is eligible when connected, available and holding no run.
/// - A machine held by a session takes only that session's runs, in creation order, and
///   nothing else until the session is released.
/// - Otherwise, among the runs waiting in its organization, the machine may take a run
///   pinned to it, or an unpinned run whose pools all contain the machine; a session run
///   only when its session is not yet bound to a machine and every earlier run of the
///   session has ended. Priority runs first, then first come, first served.
/// - Dispatch binds a session to the machine. A run with `release_session_after` releases
///   it when it ends, whatever the result.
/// - `$ref` inputs (`{"$ref": "step1.outputs.result"}`) are resolved at dispatch from the
///   earlier runs of the same session; a missing reference ends the run as `error`.
public struct Scheduler: Sendable {
    let store: any Store
    let now: @Sendable () -> Date
    let logger: Logger

    public init(store: any Store, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    /// A run given to a machine, with the inputs it runs with (run > machine > pool
    /// parameters, `$ref`s resolved).
    public struct Dispatch: Sendable, Hashable {
        public var run: StoredRun
        public var inputs: JSONObject
    }

    /// Gives the machine its next run, or returns nil when there is none for it.
    public func dispatch(toMachine machineID: String) async throws -> Dispatch? {
        let time = now()
        let (dispatch, failed) = try await store.transaction { tx -> (Dispatch?, [String]) in
            guard var machine = try await tx.fetch(Machine.self, id: machineID, organizationID: nil, forUpdate: true)
            else { throw ControlPlaneError.notFound("machine \(machineID) not found") }
            var failed: [String] = []
            while var candidate = try await tx.nextRunCandidate(forMachine: machine) {
                var sessionRuns: [StoredRun] = []
                if let sessionID = candidate.run.sessionID { sessionRuns = try await tx.runs(inSession: sessionID) }
                let resolved: JSONObject
                do {
                    resolved = try Self.resolveReferences(
                        candidate.run.inputValues ?? [:], among: sessionRuns.filter { $0.sequence < candidate.sequence }
                    )
                    try await Self.checkResolvedInputs(candidate, resolved: resolved, in: tx)
                } catch let error as ControlPlaneError {
                    try await Self.end(
                        &candidate, status: .error, errors: [error.description], output: nil, at: time, in: tx)
                    failed.append(candidate.id)
                    // Ending the run may have released its session: look at the machine afresh.
                    guard
                        let fresh = try await tx.fetch(
                            Machine.self, id: machineID, organizationID: nil, forUpdate: true)
                    else { break }
                    machine = fresh
                    continue
                }
                candidate.assignedMachineID = machine.id
                candidate.offeredAt = time
                candidate.run.machineID = machine.id
                candidate.run.inputValues = resolved
                if let sessionID = candidate.run.sessionID,
                    var session = try await tx.session(id: sessionID, forUpdate: true), session.machineID == nil
                {
                    session.machineID = machine.id
                    try await tx.saveSession(session)
                    machine.reservedSessionID = sessionID
                    try await tx.save(machine)
                }
                try await tx.save(candidate)
                let inputs = try await Self.mergedInputs(run: candidate, machine: machine, in: tx)
                return (Dispatch(run: candidate, inputs: inputs), failed)
            }
            return (nil, failed)
        }
        for runID in failed {
            logger.warning("run failed at dispatch", metadata: ["run.id": "\(runID)"])
        }
        if let dispatch {
            logger.info(
                "run dispatched",
                metadata: ["run.id": "\(dispatch.run.id)", "machine.id": "\(machineID)"])
        }
        return dispatch
    }

    /// Ends a run: sets its terminal status, frees its machine, deletes its secrets and
    /// releases its session when the run asked for it. Returns the updated run; a run that
    /// has already ended is returned unchanged (completion is idempotent).
    @discardableResult
    public func finish(
        runID: String, organizationID: String?, status: RunStatus, errors: [String]? = nil, output: JSONObject? = nil
    ) async throws -> StoredRun {
        guard status.isTerminal else {
            throw ControlPlaneError.badRequest("a run can only be finished with a final status, not \(status.rawValue)")
        }
        let time = now()
        return try await store.transaction { tx in
            guard
                var stored = try await tx.fetch(
                    StoredRun.self, id: runID, organizationID: organizationID, forUpdate: true)
            else { throw ControlPlaneError.notFound("run \(runID) not found") }
            if stored.run.status.isTerminal { return stored }
            try await Self.end(&stored, status: status, errors: errors, output: output, at: time, in: tx)
            return stored
        }
    }

    /// The terminal transition, inside the caller's transaction.
    static func end(
        _ stored: inout StoredRun, status: RunStatus, errors: [String]?, output: JSONObject?, at time: Date,
        in tx: any StoreTransaction
    ) async throws {
        stored.run.status = status
        stored.run.endedAt = time
        stored.leaseExpiresAt = nil
        if let errors { stored.run.error = errors }
        if let output { stored.run.outputData = output }
        try await tx.save(stored)
        try await tx.deleteSecrets(ownerKind: .run, ownerID: stored.id)
        if stored.run.releaseSessionAfter == true, let sessionID = stored.run.sessionID {
            try await releaseSession(sessionID, in: tx)
        }
    }

    /// Ends a session: its machine takes unrelated runs again.
    static func releaseSession(_ sessionID: String, in tx: any StoreTransaction) async throws {
        guard var session = try await tx.session(id: sessionID, forUpdate: true), session.isOpen else { return }
        session.isOpen = false
        try await tx.saveSession(session)
        if let machineID = session.machineID,
            var machine = try await tx.fetch(Machine.self, id: machineID, organizationID: nil, forUpdate: true),
            machine.reservedSessionID == sessionID
        {
            machine.reservedSessionID = nil
            try await tx.save(machine)
        }
    }

    /// Run inputs over machine parameters over pool parameters (the run's pools, or all the
    /// machine's pools when the run names none).
    static func mergedInputs(run: StoredRun, machine: Machine, in tx: any StoreTransaction) async throws -> JSONObject {
        var merged: JSONObject = [:]
        let poolIDs = run.run.poolIDs.isEmpty ? try await tx.poolIDs(ofMachine: machine.id) : run.run.poolIDs
        for poolID in poolIDs {
            if let pool = try await tx.fetch(
                Pool.self, id: poolID, organizationID: machine.organizationID, forUpdate: false)
            {
                merged.merge(pool.poolParameters ?? [:]) { _, new in new }
            }
        }
        merged.merge(machine.machineParameters ?? [:]) { _, new in new }
        merged.merge(run.run.inputValues ?? [:]) { _, new in new }
        return merged
    }

    /// A run whose inputs had `$ref`s is checked against the workflow's `input_schema` once
    /// they are resolved (at creation those inputs were unknown).
    static func checkResolvedInputs(_ run: StoredRun, resolved: JSONObject, in tx: any StoreTransaction) async throws {
        guard (run.run.inputValues ?? [:]).values.contains(where: { $0.objectValue?["$ref"] != nil }),
            let workflow = try await tx.fetch(
                Workflow.self, id: run.run.workflowID, organizationID: run.organizationID, forUpdate: false),
            let text = workflow.inputSchema, !text.allSatisfy(\.isWhitespace),
            let schema = try? JSONSchema(parsing: text)
        else { return }
        let violations = schema.validate(.object(resolved)).filter { !$0.path.hasPrefix("/$") }
        guard violations.isEmpty else {
            throw ControlPlaneError.badRequest(
                "the inputs resolved from earlier steps do not match the workflow's input_schema: "
                    + violations.prefix(10).map(\.message).joined(separator: "; "))
        }
    }

    /// Replaces every `{"$ref": "NAME.outputs.KEY[.PATH]"}` with that output of an earlier
    /// run of the session (the latest one so named, so a second chain in a kept session
    /// reads its own steps). NAME is a step's `session_alias` or `stepN` (1-based chain order).
    static func resolveReferences(_ inputs: JSONObject, among sessionRuns: [StoredRun]) throws -> JSONObject {
        func resolve(_ value: JSONValue, at path: String) throws -> JSONValue {
            switch value {
            case .object(let object):
                if object.count == 1, case .string(let reference)? = object["$ref"] {
                    return try lookUp(reference, for: path)
                }
                var resolved: JSONObject = [:]
                for (key, nested) in object { resolved[key] = try resolve(nested, at: path + "." + key) }
                return .object(resolved)
            case .array(let items):
                return .array(try items.enumerated().map { try resolve($1, at: "\(path)[\($0)]") })
            default:
                return value
            }
        }
        func lookUp(_ reference: String, for path: String) throws -> JSONValue {
            let parts = reference.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3, parts[1] == "outputs" else {
                throw ControlPlaneError.badRequest(
                    "input '\(path)': $ref '\(reference)' must look like 'step1.outputs.key'")
            }
            let source = sessionRuns.sorted { $0.sequence > $1.sequence }.first { stored in
                stored.run.sessionAlias == parts[0]
                    || (stored.chainIndex.map { "step\($0)" } == parts[0])
            }
            guard let source else {
                throw ControlPlaneError.badRequest("input '\(path)': $ref '\(reference)': no step named '\(parts[0])'")
            }
            guard source.run.status == .success else {
                throw ControlPlaneError.badRequest(
                    "input '\(path)': $ref '\(reference)': step '\(parts[0])' ended \(source.run.status.rawValue), not success"
                )
            }
            var current = JSONValue.object(source.run.outputData ?? [:])
            for key in parts[2...] {
                guard case .object(let object) = current, let next = object[key] else {
                    throw ControlPlaneError.badRequest(
                        "input '\(path)': $ref '\(reference)': step '\(parts[0])' has no output '\(parts[2...].joined(separator: "."))'"
                    )
                }
                current = next
            }
            return current
        }
        var resolved: JSONObject = [:]
        for (key, value) in inputs { resolved[key] = try resolve(value, at: key) }
        return resolved
    }
}
