import ControlPlane
import CyberdeskAPI
import Foundation
import Testing

/// What every `Store` must do, checked through the protocol only. Each test runs once per
/// entry of `StoreFactory.all` (SQLite, and PostgreSQL when a test server is configured).
@Suite("Store conformance")
struct StoreConformanceTests {
    let organizationID = Records.id()
    let otherOrganizationID = Records.id()

    // MARK: Schema

    @Test("migrating an up-to-date store again changes nothing", arguments: StoreFactory.all)
    func migrateTwice(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.migrate()
            let workflow = Records.workflow(organizationID: organizationID)
            try await store.insert([workflow])
            try await store.migrate()
            try await store.migrate()
            #expect(try await store.fetch(Workflow.self, id: workflow.id, organizationID: organizationID) == workflow)
            #expect(await store.ping())
        }
    }

    // MARK: Records

    /// The record types the store keeps as documents.
    enum RecordKind: String, CaseIterable, Sendable {
        case workflow, trajectory, machine, pool, connection, runAttachment, storedRun
    }

    @Test(
        "insert, fetch, save, list and delete round-trip every record type",
        arguments: StoreFactory.all, RecordKind.allCases)
    func recordLifecycle(factory: StoreFactory, kind: RecordKind) async throws {
        try await factory.withStore { store in
            let org = organizationID
            switch kind {
            case .workflow:
                try await checkLifecycle(
                    store, make: { Records.workflow(organizationID: org, name: "w\($0)", at: $0) },
                    change: {
                        $0.name = "renamed"
                        $0.mainPrompt = "Do another thing"
                    })
            case .trajectory:
                let workflow = Records.workflow(organizationID: org)
                try await store.insert([workflow])
                try await checkLifecycle(
                    store, make: { Records.trajectory(organizationID: org, workflowID: workflow.id, at: $0) },
                    change: {
                        $0.isMain = true
                        $0.trajectoryData = [["func_name": "key", "args": ["enter"]]]
                    })
            case .machine:
                try await checkLifecycle(
                    store, make: { Records.machine(organizationID: org, parameters: ["n": .int(Int64($0))], at: $0) },
                    change: {
                        $0.status = .disconnected
                        $0.machineParameters = ["region": "eu"]
                    })
            case .pool:
                try await checkLifecycle(
                    store, make: { Records.pool(organizationID: org, name: "pool \($0)", at: $0) },
                    change: {
                        $0.description = "described"
                        $0.poolParameters = ["a": 1]
                    })
            case .connection:
                let machine = Records.machine(organizationID: org)
                try await store.insert([machine])
                try await checkLifecycle(
                    store, make: { Records.connection(organizationID: org, machineID: machine.id, at: $0) },
                    change: {
                        $0.status = .disconnected
                        $0.disconnectedAt = Records.time(99)
                    })
            case .runAttachment:
                let workflow = Records.workflow(organizationID: org)
                let run = Records.run(organizationID: org, workflowID: workflow.id)
                try await store.insert([workflow])
                try await store.insert([run])
                try await checkLifecycle(
                    store, make: { Records.attachment(organizationID: org, runID: run.id, at: $0) },
                    change: { $0.expiresAt = Records.time(500) })
            case .storedRun:
                let workflow = Records.workflow(organizationID: org)
                try await store.insert([workflow])
                try await checkLifecycle(
                    store,
                    make: { Records.run(organizationID: org, workflowID: workflow.id, inputs: ["k": "v"], at: $0) },
                    change: {
                        $0.run.status = .success
                        $0.run.outputData = ["result": "42"]
                        $0.attempt = 2
                        $0.chainIndex = 3
                    })
            }
        }
    }

    /// The shared contract of the generic record operations, for one record type.
    private func checkLifecycle<R: StoredRecord & Equatable>(
        _ store: any Store, make: (Int) -> R, change: (inout R) -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let first = make(10)
        let second = make(20)
        try await store.insert([first, second])

        #expect(
            try await store.fetch(R.self, id: first.id, organizationID: organizationID) == first,
            sourceLocation: sourceLocation)
        #expect(
            try await store.fetch(R.self, id: first.id, organizationID: nil) == first,
            "organizationID nil finds the record in any organization", sourceLocation: sourceLocation)
        #expect(
            try await store.fetch(R.self, id: Records.id(), organizationID: organizationID) == nil,
            sourceLocation: sourceLocation)

        let newest = try await store.list(R.self, organizationID: organizationID, order: .newestFirst)
        #expect(newest.items == [second, first], sourceLocation: sourceLocation)
        #expect(newest.total == 2, sourceLocation: sourceLocation)
        let oldest = try await store.list(R.self, organizationID: organizationID, order: .oldestFirst)
        #expect(oldest.items == [first, second], sourceLocation: sourceLocation)

        var changed = first
        change(&changed)
        #expect(changed != first, "the change must change something", sourceLocation: sourceLocation)
        let saved = changed
        try await store.transaction { try await $0.save(saved) }
        #expect(
            try await store.fetch(R.self, id: first.id, organizationID: organizationID) == changed,
            sourceLocation: sourceLocation)
        #expect(
            try await store.fetch(R.self, id: second.id, organizationID: organizationID) == second,
            "saving one record leaves the others alone", sourceLocation: sourceLocation)

        let duplicate = await #expect(throws: StoreError.self, sourceLocation: sourceLocation) {
            try await store.insert([second])
        }
        #expect(duplicate?.isConflict == true, "\(String(describing: duplicate))", sourceLocation: sourceLocation)

        let deleted = try await store.transaction {
            try await $0.delete(R.self, id: first.id, organizationID: organizationID)
        }
        #expect(deleted, sourceLocation: sourceLocation)
        #expect(
            try await store.fetch(R.self, id: first.id, organizationID: nil) == nil, sourceLocation: sourceLocation)
        let again = try await store.transaction {
            try await $0.delete(R.self, id: first.id, organizationID: organizationID)
        }
        #expect(!again, "deleting a missing record reports false", sourceLocation: sourceLocation)
        #expect(
            try await store.list(R.self, organizationID: organizationID).items == [second],
            sourceLocation: sourceLocation)
    }

    // MARK: Filters, paging, ordering

    @Test("equals, isNull, anyEquals and oneOf select the right runs", arguments: StoreFactory.all)
    func columnFilters(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let workflow = Records.workflow(organizationID: org)
            let machine = Records.id()
            let pinned = Records.run(organizationID: org, workflowID: workflow.id, pinnedMachineID: machine, at: 1)
            let assigned = Records.run(
                organizationID: org, workflowID: workflow.id, status: .success, assignedMachineID: machine, at: 2)
            let elsewhere = Records.run(
                organizationID: org, workflowID: workflow.id, status: .error, assignedMachineID: Records.id(), at: 3)
            let waiting = Records.run(organizationID: org, workflowID: workflow.id, at: 4)
            try await store.insert([workflow])
            try await store.insert([pinned, assigned, elsewhere, waiting])

            func ids(_ filters: [RecordFilter]) async throws -> [String] {
                try await store.list(StoredRun.self, organizationID: org, filters: filters).items.map(\.id)
            }
            #expect(try await ids([.equals("status", .text("scheduling"))]) == [pinned.id, waiting.id])
            #expect(try await ids([.isNull("assigned_machine_id")]) == [pinned.id, waiting.id])
            #expect(
                try await ids([.anyEquals(["assigned_machine_id", "pinned_machine_id"], .text(machine))])
                    == [pinned.id, assigned.id])
            #expect(
                try await ids([.oneOf("status", [.text("success"), .text("error")])]) == [assigned.id, elsewhere.id])
            #expect(try await ids([.oneOf("status", [])]) == [], "an empty oneOf matches nothing")
            #expect(
                try await ids([.equals("status", .text("scheduling")), .isNull("pinned_machine_id")]) == [waiting.id],
                "filters combine with AND")
            #expect(try await ids([.equals("workflow_id", .text(workflow.id))]).count == 4)
        }
    }

    @Test("atLeast and atMost bound dates inclusively", arguments: StoreFactory.all)
    func dateFilters(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let workflows = [0, 10, 20, 30].map {
                Records.workflow(organizationID: organizationID, name: "w\($0)", at: $0)
            }
            try await store.insert(workflows)
            let page = try await store.list(
                Workflow.self, organizationID: organizationID,
                filters: [
                    .atLeast("created_at", .date(Records.time(10))), .atMost("created_at", .date(Records.time(20))),
                ])
            #expect(page.items.map(\.name) == ["w10", "w20"])
            #expect(page.total == 2)
            let after = try await store.list(
                Workflow.self, organizationID: organizationID,
                filters: [.atLeast("created_at", .date(Records.time(11)))])
            #expect(after.items.map(\.name) == ["w20", "w30"])
        }
    }

    @Test(
        "contains matches substrings case-insensitively and takes % and _ literally",
        arguments: StoreFactory.all,
        [
            ("ALPHA", ["Alpha report", "alphabet soup"]),
            ("report", ["Alpha report"]),
            ("%", ["100% done"]),
            ("0%", ["100% done"]),
            ("_", ["a_b"]),
            ("a_b", ["a_b"]),
            ("\\", ["back\\slash"]),
            ("zzz", []),
        ])
    func containsFilter(factory: StoreFactory, search: (String, [String])) async throws {
        try await factory.withStore { store in
            let names = ["Alpha report", "alphabet soup", "100% done", "100 percent", "a_b", "axb", "back\\slash"]
            try await store.insert(
                names.enumerated().map { Records.workflow(organizationID: organizationID, name: $1, at: $0) })
            let page = try await store.list(
                Workflow.self, organizationID: organizationID, filters: [.contains(["search_text"], search.0)])
            #expect(page.items.compactMap(\.name) == search.1)
            #expect(page.total == search.1.count)
        }
    }

    @Test("contains is case-insensitive beyond ASCII", arguments: StoreFactory.all)
    func containsNonASCII(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.insert([Records.workflow(organizationID: organizationID, name: "ÉCOLE Zürich")])
            // An ASCII letter in the search works; the accented capital is the problem.
            let ascii = try await store.list(
                Workflow.self, organizationID: organizationID, filters: [.contains(["search_text"], "zürich")])
            #expect(ascii.total == 1)
            for search in ["école", "ÉCOLE"] {
                let page = try await store.list(
                    Workflow.self, organizationID: organizationID, filters: [.contains(["search_text"], search)])
                #expect(page.total == 1, "search '\(search)'")
            }
        }
    }

    @Test("skip and limit page through the list while total counts every match", arguments: StoreFactory.all)
    func paging(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            try await store.insert(
                (0..<5).map { Records.workflow(organizationID: organizationID, name: "w\($0)", at: $0) })
            let page = try await store.list(
                Workflow.self, organizationID: organizationID, order: .newestFirst, skip: 1, limit: 2)
            #expect(page.items.map(\.name) == ["w3", "w2"])
            #expect(page.total == 5)
            let last = try await store.list(
                Workflow.self, organizationID: organizationID, order: .newestFirst, skip: 4, limit: 2)
            #expect(last.items.map(\.name) == ["w0"])
            let beyond = try await store.list(Workflow.self, organizationID: organizationID, skip: 10, limit: 2)
            #expect(beyond.items.isEmpty)
            #expect(beyond.total == 5)
            let filtered = try await store.list(
                Workflow.self, organizationID: organizationID,
                filters: [.atLeast("created_at", .date(Records.time(3)))],
                limit: 1)
            #expect(filtered.items.map(\.name) == ["w3"])
            #expect(filtered.total == 2)
        }
    }

    @Test("listFields reads fields from their columns, or else from the documents", arguments: StoreFactory.all)
    func listFields(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let first = Records.machine(organizationID: organizationID, name: "a", at: 0)
            var second = Records.machine(organizationID: organizationID, name: "b", parameters: ["region": "eu"], at: 1)
            let unnamed = Records.machine(organizationID: organizationID, name: nil, at: 2)
            try await store.insert([first, second, unnamed])
            // A saved change reaches the hostname column too.
            second.hostname = "moved"
            let moved = second
            try await store.transaction { try await $0.save(moved) }
            let columns = try await store.transaction {
                try await $0.listFields(
                    Machine.self, ["id", "name", "hostname", "status"], organizationID: organizationID, filters: [],
                    order: .newestFirst, skip: 0, limit: 2)
            }
            #expect(columns.total == 3)
            #expect(
                columns.items == [
                    ["id": .string(unnamed.id), "name": .null, "hostname": .string(unnamed.hostname!), "status": "connected"],
                    ["id": .string(second.id), "name": "b", "hostname": "moved", "status": "connected"],
                ])
            // `machine_parameters` has no column: the documents are read, in the same order.
            let documents = try await store.transaction {
                try await $0.listFields(
                    Machine.self, ["id", "machine_parameters", "name", "no_such_field"], organizationID: organizationID,
                    filters: [.equals("status", .text("connected"))], order: .newestFirst, skip: 1, limit: 5)
            }
            #expect(documents.total == 3)
            #expect(
                documents.items == [
                    ["id": .string(second.id), "machine_parameters": ["region": "eu"], "name": "b", "no_such_field": .null],
                    ["id": .string(first.id), "machine_parameters": .null, "name": "a", "no_such_field": .null],
                ])
        }
    }

    @Test("records with equal times fall back to the id for a stable order", arguments: StoreFactory.all)
    func ordering(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let workflows = (0..<4).map { Records.workflow(organizationID: organizationID, name: "n\(3 - $0)", at: 0) }
            try await store.insert(workflows)
            let byID = workflows.map(\.id).sorted()
            #expect(try await store.list(Workflow.self, organizationID: organizationID).items.map(\.id) == byID)
            #expect(
                try await store.list(Workflow.self, organizationID: organizationID, order: .newestFirst).items.map(\.id)
                    == byID.reversed())
            #expect(
                try await store.list(Workflow.self, organizationID: organizationID, order: .custom("name ASC")).items
                    .map(\.name) == ["n0", "n1", "n2", "n3"])
        }
    }

    // MARK: Organizations

    @Test("records are scoped to their organization", arguments: StoreFactory.all)
    func organizationScoping(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let mine = Records.workflow(organizationID: organizationID, name: "mine")
            let theirs = Records.workflow(organizationID: otherOrganizationID, name: "theirs")
            try await store.insert([mine, theirs])

            #expect(try await store.fetch(Workflow.self, id: mine.id, organizationID: otherOrganizationID) == nil)
            #expect(try await store.list(Workflow.self, organizationID: organizationID).items == [mine])
            #expect(try await store.list(Workflow.self, organizationID: otherOrganizationID).items == [theirs])

            let deleted = try await store.transaction {
                try await $0.delete(Workflow.self, id: mine.id, organizationID: otherOrganizationID)
            }
            #expect(!deleted)
            #expect(try await store.fetch(Workflow.self, id: mine.id, organizationID: organizationID) == mine)

            var hijacked = mine
            hijacked.organizationID = otherOrganizationID
            hijacked.name = "hijacked"
            let attempt = hijacked
            try await store.transaction { try await $0.save(attempt) }
            #expect(
                try await store.fetch(Workflow.self, id: mine.id, organizationID: organizationID) == mine,
                "saving under another organization changes nothing")
            #expect(try await store.fetch(Workflow.self, id: mine.id, organizationID: otherOrganizationID) == nil)
        }
    }

    @Test("organizations and API keys: lookup by hash, listing, revocation", arguments: StoreFactory.all)
    func organizationsAndKeys(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let organization = Organization(id: organizationID, name: "acme", createdAt: Records.time(0))
            let key = APIKeyRecord(
                id: Records.id(), organizationID: organizationID, name: "admin", prefix: "cdk_abcdef",
                hash: String(repeating: "1", count: 64), createdAt: Records.time(1))
            let second = APIKeyRecord(
                id: Records.id(), organizationID: organizationID, name: "ci", prefix: "cdk_ghijkl",
                hash: String(repeating: "2", count: 64), createdAt: Records.time(2))
            #expect(try await store.transaction { try await $0.organizationCount() } == 0)
            try await store.transaction { tx async throws in
                try await tx.insertOrganization(organization)
                try await tx.insertAPIKey(key)
                try await tx.insertAPIKey(second)
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.organizationCount() == 1)
                #expect(try await tx.organization(named: "acme") == organization)
                #expect(try await tx.organization(id: organizationID) == organization)
                #expect(try await tx.organization(named: "nobody") == nil)
                #expect(try await tx.apiKey(hash: key.hash) == key)
                #expect(try await tx.apiKey(hash: String(repeating: "3", count: 64)) == nil)
                #expect(try await tx.apiKeys() == [key, second])
            }

            var revoked = key
            revoked.revokedAt = Records.time(5)
            let change = revoked
            // A read (no BEGIN/COMMIT on PostgreSQL) sees the key, then its revocation at once.
            #expect(try await store.read { try await $0.apiKey(hash: key.hash) } == key)
            try await store.transaction { try await $0.saveAPIKey(change) }
            #expect(try await store.read { try await $0.apiKey(hash: key.hash) }?.revokedAt == Records.time(5))
            #expect(try await store.transaction { try await $0.apiKey(hash: key.hash) }?.revokedAt == Records.time(5))
            #expect(try await store.transaction { try await $0.apiKey(hash: second.hash) }?.revokedAt == nil)

            let sameName = await #expect(throws: StoreError.self) {
                try await store.transaction {
                    try await $0.insertOrganization(
                        Organization(id: Records.id(), name: "acme", createdAt: Records.time(9)))
                }
            }
            #expect(sameName?.isConflict == true)
            let sameHash = await #expect(throws: StoreError.self) {
                try await store.transaction {
                    var copy = second
                    copy.id = Records.id()
                    try await $0.insertAPIKey(copy)
                }
            }
            #expect(sameHash?.isConflict == true)
        }
    }

    @Test("registration tokens are found by hash and remember their use", arguments: StoreFactory.all)
    func registrationTokens(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let token = RegistrationTokenRecord(
                id: Records.id(), organizationID: organizationID, hash: String(repeating: "a", count: 64),
                poolNames: ["billing", "eu west"], expiresAt: Records.time(3600), createdAt: Records.time(0))
            try await store.transaction { tx async throws in
                try await tx.insertOrganization(
                    Organization(id: organizationID, name: "acme", createdAt: Records.time(0)))
                try await tx.insertRegistrationToken(token)
            }
            #expect(try await store.transaction { try await $0.registrationToken(hash: token.hash) } == token)
            #expect(
                try await store.transaction { try await $0.registrationToken(hash: String(repeating: "b", count: 64)) }
                    == nil)
            var used = token
            used.usedAt = Records.time(60)
            let change = used
            try await store.transaction { try await $0.saveRegistrationToken(change) }
            #expect(try await store.transaction { try await $0.registrationToken(hash: token.hash) } == used)
            var revoked = token
            revoked.revokedAt = Records.time(90)
            let revocation = revoked
            try await store.transaction { try await $0.saveRegistrationToken(revocation) }
            #expect(try await store.transaction { try await $0.registrationToken(hash: token.hash) } == revoked)
        }
    }

    // MARK: Transactions

    @Test("a transaction that throws leaves nothing behind", arguments: StoreFactory.all)
    func rollbackOnThrow(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let workflow = Records.workflow(organizationID: organizationID)
            let machine = Records.machine(organizationID: organizationID)
            let pool = Records.pool(organizationID: organizationID, name: "p")
            let secret = VaultSecret(
                id: "vault:" + Records.id(), organizationID: organizationID, ownerKind: .machine, ownerID: machine.id,
                name: "password", sealed: [1, 2, 3], createdAt: Records.time(0))
            await #expect(throws: DeliberateFailure.self) {
                try await store.transaction { tx async throws in
                    try await tx.insertOrganization(
                        Organization(id: organizationID, name: "acme", createdAt: Records.time(0)))
                    try await tx.insert(workflow)
                    try await tx.insert(machine)
                    try await tx.insert(pool)
                    try await tx.addMachines([machine.id], toPool: pool.id)
                    try await tx.insertSecret(secret)
                    try await tx.insertSession(
                        SessionRecord(
                            id: Records.id(), organizationID: organizationID, machineID: nil, isOpen: true,
                            createdAt: Records.time(0)))
                    throw DeliberateFailure()
                }
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.organizationCount() == 0)
                #expect(
                    try await tx.fetch(Workflow.self, id: workflow.id, organizationID: nil, forUpdate: false) == nil)
                #expect(try await tx.fetch(Machine.self, id: machine.id, organizationID: nil, forUpdate: false) == nil)
                #expect(try await tx.fetch(Pool.self, id: pool.id, organizationID: nil, forUpdate: false) == nil)
                #expect(try await tx.machineIDs(inPool: pool.id).isEmpty)
                #expect(try await tx.secrets(ownerKind: .machine, ownerID: machine.id).isEmpty)
            }
        }
    }

    @Test("a failed statement rolls back the whole transaction and the store stays usable", arguments: StoreFactory.all)
    func rollbackOnConflict(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let existing = Records.workflow(organizationID: organizationID, name: "existing")
            try await store.insert([existing])
            let fresh = Records.workflow(organizationID: organizationID, name: "fresh")
            let error = await #expect(throws: StoreError.self) {
                try await store.transaction { tx async throws in
                    try await tx.insert(fresh)
                    try await tx.insert(existing)
                }
            }
            #expect(error?.isConflict == true)
            #expect(try await store.fetch(Workflow.self, id: fresh.id, organizationID: organizationID) == nil)
            try await store.insert([fresh])
            #expect(try await store.list(Workflow.self, organizationID: organizationID).total == 2)
        }
    }

    @Test("concurrent transactions all commit", arguments: StoreFactory.all)
    func concurrentTransactions(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await store.insert([Records.workflow(organizationID: org, name: "w\(index)", at: index)])
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.list(Workflow.self, organizationID: org).total == 20)
        }
    }

    // MARK: Pools and machines

    @Test("pool membership: add, remove, replace, count, and cleanup on delete", arguments: StoreFactory.all)
    func poolMembership(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let first = Records.machine(organizationID: org, name: "first", at: 1)
            let second = Records.machine(organizationID: org, name: "second", at: 2)
            let third = Records.machine(organizationID: org, name: "third", at: 3)
            let billing = Records.pool(organizationID: org, name: "billing", at: 1)
            let europe = Records.pool(organizationID: org, name: "europe", at: 2)
            let empty = Records.pool(organizationID: org, name: "empty", at: 3)
            try await store.insert([first, second, third])
            try await store.insert([billing, europe, empty])

            try await store.transaction { tx async throws in
                try await tx.addMachines([second.id, first.id], toPool: billing.id)
                try await tx.addMachines([first.id, second.id], toPool: billing.id)  // again: harmless
                try await tx.addMachines([first.id], toPool: europe.id)
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.machineIDs(inPool: billing.id) == [first.id, second.id])
                #expect(try await tx.poolIDs(ofMachine: first.id) == [billing.id, europe.id])
                #expect(
                    try await tx.machineCounts(pools: [billing.id, europe.id, empty.id])
                        == [billing.id: 2, europe.id: 1, empty.id: 0])
                #expect(try await tx.machineCounts(pools: []) == [:])
            }

            try await store.transaction { try await $0.removeMachines([second.id, third.id], fromPool: billing.id) }
            #expect(try await store.transaction { try await $0.machineIDs(inPool: billing.id) } == [first.id])

            try await store.transaction { try await $0.setPools([europe.id, empty.id, empty.id], ofMachine: first.id) }
            try await store.transaction { tx async throws in
                #expect(try await tx.poolIDs(ofMachine: first.id) == [europe.id, empty.id])
                #expect(try await tx.machineIDs(inPool: billing.id).isEmpty)
            }
            try await store.transaction { try await $0.setPools([], ofMachine: first.id) }
            #expect(try await store.transaction { try await $0.poolIDs(ofMachine: first.id) }.isEmpty)

            // Deleting a machine or a pool removes its memberships, not the other side.
            try await store.transaction { tx async throws in
                try await tx.setPools([billing.id, europe.id], ofMachine: second.id)
                try await tx.setPools([billing.id], ofMachine: third.id)
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.delete(Machine.self, id: second.id, organizationID: org))
                #expect(try await tx.delete(Pool.self, id: europe.id, organizationID: org))
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.machineIDs(inPool: billing.id) == [third.id])
                #expect(try await tx.poolIDs(ofMachine: second.id).isEmpty)
                #expect(try await tx.machineCounts(pools: [billing.id, europe.id]) == [billing.id: 1, europe.id: 0])
                #expect(try await tx.fetch(Machine.self, id: third.id, organizationID: org, forUpdate: false) != nil)
            }
        }
    }

    @Test("detachRuns(fromMachine:) keeps the runs and forgets the machine", arguments: StoreFactory.all)
    func detachRuns(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let workflow = Records.workflow(organizationID: org)
            let machine = Records.machine(organizationID: org)
            let other = Records.machine(organizationID: org)
            let pinned = Records.run(organizationID: org, workflowID: workflow.id, pinnedMachineID: machine.id, at: 1)
            let done = Records.run(
                organizationID: org, workflowID: workflow.id, status: .success, assignedMachineID: machine.id, at: 2)
            let unrelated = Records.run(
                organizationID: org, workflowID: workflow.id, status: .success, assignedMachineID: other.id, at: 3)
            try await store.insert([workflow])
            try await store.insert([machine, other])
            try await store.insert([pinned, done, unrelated])

            try await store.transaction { try await $0.detachRuns(fromMachine: machine.id) }

            let detachedPin = try #require(try await store.fetch(StoredRun.self, id: pinned.id, organizationID: org))
            #expect(detachedPin.pinnedMachineID == nil)
            #expect(detachedPin.run.machineID == nil)
            #expect(detachedPin.run.status == .scheduling)
            let detachedDone = try #require(try await store.fetch(StoredRun.self, id: done.id, organizationID: org))
            #expect(detachedDone.assignedMachineID == nil)
            #expect(detachedDone.run.machineID == nil)
            #expect(detachedDone.run.status == .success)
            #expect(try await store.fetch(StoredRun.self, id: unrelated.id, organizationID: org) == unrelated)
            let filtered = try await store.list(
                StoredRun.self, organizationID: org,
                filters: [.anyEquals(["assigned_machine_id", "pinned_machine_id"], .text(machine.id))])
            #expect(filtered.total == 0)
        }
    }

    // MARK: Runs and sessions

    @Test("sessions are stored, updated and list their runs in creation order", arguments: StoreFactory.all)
    func sessions(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let session = SessionRecord(
                id: Records.id(), organizationID: org, machineID: nil, isOpen: true, createdAt: Records.time(0))
            let workflow = Records.workflow(organizationID: org)
            // Inserted out of order: `sequence` decides, not insertion or id.
            let third = Records.run(organizationID: org, workflowID: workflow.id, sessionID: session.id, sequence: 30)
            let first = Records.run(organizationID: org, workflowID: workflow.id, sessionID: session.id, sequence: 10)
            let second = Records.run(organizationID: org, workflowID: workflow.id, sessionID: session.id, sequence: 20)
            let outside = Records.run(organizationID: org, workflowID: workflow.id, sequence: 15)
            try await store.transaction { tx async throws in
                try await tx.insertSession(session)
                try await tx.insert(workflow)
                for run in [third, first, second, outside] { try await tx.insert(run) }
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.session(id: session.id, forUpdate: false) == session)
                #expect(try await tx.session(id: Records.id(), forUpdate: false) == nil)
                #expect(try await tx.runs(inSession: session.id).map(\.id) == [first.id, second.id, third.id])
            }
            var bound = session
            bound.machineID = Records.id()
            bound.isOpen = false
            let change = bound
            try await store.transaction { try await $0.saveSession(change) }
            #expect(try await store.transaction { try await $0.session(id: session.id, forUpdate: true) } == bound)
        }
    }

    @Test("two unfinished runs cannot hold the same machine", arguments: StoreFactory.all)
    func holdsMachineIsUnique(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let workflow = Records.workflow(organizationID: org)
            let machine = Records.id()
            let finished = Records.run(
                organizationID: org, workflowID: workflow.id, status: .success, assignedMachineID: machine, at: 1)
            let alsoFinished = Records.run(
                organizationID: org, workflowID: workflow.id, status: .cancelled, assignedMachineID: machine, at: 2)
            let active = Records.run(
                organizationID: org, workflowID: workflow.id, status: .running, assignedMachineID: machine, at: 3)
            try await store.insert([workflow])
            try await store.insert([finished, alsoFinished, active])

            let second = Records.run(
                organizationID: org, workflowID: workflow.id, status: .scheduling, assignedMachineID: machine, at: 4)
            let insertError = await #expect(throws: StoreError.self) { try await store.insert([second]) }
            #expect(insertError?.isConflict == true, "\(String(describing: insertError))")

            // A save that makes a second run hold the machine is refused too.
            var reassigned = finished
            reassigned.run.status = .running
            let change = reassigned
            let saveError = await #expect(throws: StoreError.self) {
                try await store.transaction { try await $0.save(change) }
            }
            #expect(saveError?.isConflict == true)

            // Once the active run ends, the machine is free for the next one.
            var ended = active
            ended.run.status = .taskFailed
            let end = ended
            try await store.transaction { try await $0.save(end) }
            try await store.insert([second])
            #expect(try await store.fetch(StoredRun.self, id: second.id, organizationID: org) == second)
        }
    }

    @Test(
        "deleteRuns(ofWorkflow:) removes runs, trajectories and run secrets and returns the attachments",
        arguments: StoreFactory.all)
    func deleteRunsOfWorkflow(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let org = organizationID
            let doomed = Records.workflow(organizationID: org, name: "doomed")
            let kept = Records.workflow(organizationID: org, name: "kept")
            let runs = (0..<2).map { Records.run(organizationID: org, workflowID: doomed.id, at: $0) }
            let keptRun = Records.run(organizationID: org, workflowID: kept.id)
            let attachments = [
                Records.attachment(organizationID: org, runID: runs[0].id, filename: "a.txt", at: 1),
                Records.attachment(organizationID: org, runID: runs[1].id, filename: "b.txt", type: .output, at: 2),
            ]
            let keptAttachment = Records.attachment(organizationID: org, runID: keptRun.id, filename: "c.txt")
            let trajectory = Records.trajectory(organizationID: org, workflowID: doomed.id)
            let keptTrajectory = Records.trajectory(organizationID: org, workflowID: kept.id)
            @Sendable func secret(_ runID: String) -> VaultSecret {
                VaultSecret(
                    id: "vault:" + Records.id(), organizationID: org, ownerKind: .run, ownerID: runID, name: "password",
                    sealed: [9, 9, 9], createdAt: Records.time(0))
            }
            try await store.transaction { tx async throws in
                for workflow in [doomed, kept] { try await tx.insert(workflow) }
                for run in runs + [keptRun] { try await tx.insert(run) }
                try await tx.setRunPools([Records.id()], run: runs[0].id)
                for attachment in attachments + [keptAttachment] { try await tx.insert(attachment) }
                for trajectory in [trajectory, keptTrajectory] { try await tx.insert(trajectory) }
                for runID in runs.map(\.id) + [keptRun.id] { try await tx.insertSecret(secret(runID)) }
            }
            #expect(try await store.transaction { try await $0.attachments(ofRun: runs[0].id) } == [attachments[0]])
            #expect(try await store.transaction { try await $0.attachmentCount(sha256: attachments[0].sha256) } == 3)

            let returned = try await store.transaction { try await $0.deleteRuns(ofWorkflow: doomed.id) }

            #expect(Set(returned) == Set(attachments))
            try await store.transaction { tx async throws in
                for run in runs {
                    #expect(
                        try await tx.fetch(StoredRun.self, id: run.id, organizationID: nil, forUpdate: false) == nil)
                    #expect(try await tx.secrets(ownerKind: .run, ownerID: run.id).isEmpty)
                    #expect(try await tx.attachments(ofRun: run.id).isEmpty)
                }
                #expect(
                    try await tx.fetch(TrajectoryRecord.self, id: trajectory.id, organizationID: nil, forUpdate: false)
                        == nil)
                #expect(try await tx.attachmentCount(sha256: attachments[0].sha256) == 1)
                // The other workflow keeps everything.
                #expect(
                    try await tx.fetch(StoredRun.self, id: keptRun.id, organizationID: nil, forUpdate: false) == keptRun
                )
                #expect(try await tx.secrets(ownerKind: .run, ownerID: keptRun.id).count == 1)
                #expect(try await tx.attachments(ofRun: keptRun.id) == [keptAttachment])
                #expect(
                    try await tx.fetch(
                        TrajectoryRecord.self, id: keptTrajectory.id, organizationID: nil, forUpdate: false)
                        == keptTrajectory)
                // The workflow row itself is the caller's to delete.
                #expect(
                    try await tx.fetch(Workflow.self, id: doomed.id, organizationID: nil, forUpdate: false) == doomed)
            }
        }
    }

    // MARK: Vault

    @Test("vault secrets are listed and deleted by owner", arguments: StoreFactory.all)
    func vaultSecrets(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let owner = Records.id()
            @Sendable func secret(_ kind: VaultSecret.OwnerKind, _ name: String, _ ownerID: String = owner)
                -> VaultSecret
            {
                VaultSecret(
                    id: "vault:" + Records.id(), organizationID: organizationID, ownerKind: kind, ownerID: ownerID,
                    name: name, sealed: Array(name.utf8) + [0, 255], createdAt: Records.time(0))
            }
            let password = secret(.run, "password")
            let nested = secret(.run, "db.user")
            let machineSecret = secret(.machine, "password")
            let otherRun = secret(.run, "password", Records.id())
            try await store.transaction { tx async throws in
                for item in [password, nested, machineSecret, otherRun] { try await tx.insertSecret(item) }
            }
            try await store.transaction { tx async throws in
                #expect(try await tx.secrets(ownerKind: .run, ownerID: owner) == [nested, password])
                #expect(try await tx.secrets(ownerKind: .machine, ownerID: owner) == [machineSecret])
                #expect(try await tx.secrets(ownerKind: .pool, ownerID: owner).isEmpty)
            }
            let duplicate = await #expect(throws: StoreError.self) {
                try await store.transaction { try await $0.insertSecret(secret(.run, "password")) }
            }
            #expect(duplicate?.isConflict == true, "one secret per owner and name")

            try await store.transaction { try await $0.deleteSecrets(ownerKind: .run, ownerID: owner) }
            try await store.transaction { tx async throws in
                #expect(try await tx.secrets(ownerKind: .run, ownerID: owner).isEmpty)
                #expect(try await tx.secrets(ownerKind: .machine, ownerID: owner) == [machineSecret])
                #expect(try await tx.secrets(ownerKind: .run, ownerID: otherRun.ownerID) == [otherRun])
            }
        }
    }

    // MARK: Idempotency

    @Test("idempotency entries: begin, replay, complete, abandon and expire", arguments: StoreFactory.all)
    func idempotency(factory: StoreFactory) async throws {
        try await factory.withStore { store in
            let entry = IdempotencyEntry(
                organizationID: organizationID, key: "key-1", method: "POST", path: "/v1/workflows",
                createdAt: Records.time(0))
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(entry) } == nil)
            let inFlight = try #require(try await store.transaction { try await $0.beginIdempotentRequest(entry) })
            #expect(!inFlight.isComplete)
            #expect(inFlight.method == "POST")
            #expect(inFlight.path == "/v1/workflows")

            // The same key in another organization is another request.
            var foreign = entry
            foreign.organizationID = otherOrganizationID
            let foreignEntry = foreign
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(foreignEntry) } == nil)

            var done = entry
            done.isComplete = true
            done.status = 201
            done.body = Array(#"{"id":"x"}"#.utf8)
            let finished = done
            try await store.transaction { try await $0.completeIdempotentRequest(finished) }
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(entry) } == finished)

            // Abandoning only forgets requests that never finished.
            try await store.transaction {
                try await $0.abandonIdempotentRequest(organizationID: organizationID, key: "key-1")
            }
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(entry) } == finished)
            try await store.transaction {
                try await $0.abandonIdempotentRequest(organizationID: otherOrganizationID, key: "key-1")
            }
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(foreignEntry) } == nil)

            // Expiry: entries older than the cutoff go; newer ones stay.
            let young = IdempotencyEntry(
                organizationID: organizationID, key: "key-2", method: "DELETE", path: "/v1/pools/x",
                createdAt: Records.time(100))
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(young) } == nil)
            let removed = try await store.transaction {
                try await $0.deleteIdempotencyEntries(olderThan: Records.time(50))
            }
            #expect(removed == 2)
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(entry) } == nil)
            #expect(try await store.transaction { try await $0.beginIdempotentRequest(young) } != nil)
        }
    }
}
