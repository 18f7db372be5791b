import CyberdeskAPI
import FoundationEssentials
import Synchronization

/// "Seen at" writes of poll renewals, gathered in memory and written together.
///
/// Every poll is a heartbeat of its machine: the machine's `last_seen` and the connection's
/// `last_ping`. Written by each renewal, that was a write transaction per poll — 400 a second
/// with 10,000 agents, each a commit (an fsync on PostgreSQL) and two row locks. A renewal
/// now only checks its connection (a read) and records the time here; the lease sweep
/// (`LeaseSweeper`, every second, on every replica) writes what was recorded, up to
/// `chunk` machines per transaction, before it looks for silent machines. So the stored
/// times trail by at most one sweep interval, against a disconnect timeout of a minute. A
/// machine that was not `connected` is written at once by its poll, not here (it may now
/// take work).
public final class PollTouches: Sendable {
    struct Touch: Sendable {
        var machineID: String
        var organizationID: String
        var connectionID: String
        var time: Date
    }

    /// Machines per write transaction, so a flush never holds the SQLite writer for long.
    static let chunk = 100

    private let pending = Mutex<[String: Touch]>([:])

    public init() {}

    func record(_ touch: Touch) {
        pending.withLock { $0[touch.machineID] = touch }
    }

    /// Puts back touches a failed flush could not write, unless newer ones came meanwhile.
    private func restore(_ touches: [Touch]) {
        pending.withLock { pending in
            for touch in touches where pending[touch.machineID] == nil { pending[touch.machineID] = touch }
        }
    }

    var count: Int { pending.withLock { $0.count } }

    /// Writes every recorded touch.
    public func flush(to store: any Store) async throws {
        let touches = pending.withLock { pending -> [Touch] in
            defer { pending.removeAll(keepingCapacity: true) }
            return Array(pending.values)
        }
        var start = 0
        while start < touches.count {
            let slice = Array(touches[start..<min(start + Self.chunk, touches.count)])
            do {
                try await store.transaction { tx in
                    for touch in slice { try await Self.apply(touch, reconnect: false, in: tx) }
                }
            } catch {
                restore(Array(touches[start...]))
                throw error
            }
            start += Self.chunk
        }
    }

    /// Writes one touch: the connection's ping when it is still open, the machine's
    /// `last_seen` (and, with `reconnect`, `connected`). Times never go backwards. True when
    /// the machine was not `connected` before.
    @discardableResult
    static func apply(_ touch: Touch, reconnect: Bool, in tx: any StoreTransaction) async throws -> Bool {
        if var connection = try await tx.fetch(
            Connection.self, id: touch.connectionID, organizationID: touch.organizationID, forUpdate: true),
            connection.status == .connected, connection.lastPing < touch.time
        {
            connection.lastPing = touch.time
            try await tx.save(connection)
        }
        guard var machine = try await tx.fetch(Machine.self, id: touch.machineID, organizationID: nil, forUpdate: true)
        else { return false }
        let reconnected = machine.status != .connected
        guard reconnect || !reconnected else { return false }
        if machine.lastSeen < touch.time { machine.lastSeen = touch.time }
        machine.status = .connected
        try await tx.save(machine)
        return reconnected
    }
}
