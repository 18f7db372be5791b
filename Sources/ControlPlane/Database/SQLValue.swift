import FoundationEssentials

/// A value bound to or read from SQL. Both stores use the same five kinds, so every query
/// is written once: timestamps are integer microseconds since 1970 (`BIGINT`), booleans are
/// `0`/`1`, JSON documents are text.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public static func bool(_ value: Bool) -> SQLValue { .int(value ? 1 : 0) }

    public static func date(_ value: Date) -> SQLValue { .int(Timestamp.micros(value)) }

    public static func optional(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }

    public static func optional(_ value: Date?) -> SQLValue { value.map { .date($0) } ?? .null }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]

    public init(values: [String: SQLValue]) { self.values = values }

    public subscript(_ column: String) -> SQLValue { values[column] ?? .null }

    public func text(_ column: String) throws -> String {
        switch self[column] {
        case .text(let value): return value
        case .int(let value): return String(value)
        default: throw StoreError.corrupt("column \(column) is not text")
        }
    }

    public func optionalText(_ column: String) -> String? {
        if case .text(let value) = self[column] { return value }
        return nil
    }

    public func int(_ column: String) throws -> Int64 {
        switch self[column] {
        case .int(let value): return value
        case .double(let value): return Int64(value)
        case .text(let value):
            guard let parsed = Int64(value) else { throw StoreError.corrupt("column \(column) is not an integer") }
            return parsed
        default: throw StoreError.corrupt("column \(column) is not an integer")
        }
    }

    public func optionalInt(_ column: String) -> Int64? {
        switch self[column] {
        case .int(let value): value
        case .double(let value): Int64(value)
        default: nil
        }
    }

    public func bool(_ column: String) throws -> Bool { try int(column) != 0 }

    public func date(_ column: String) throws -> Date { Timestamp.date(try int(column)) }

    public func optionalDate(_ column: String) -> Date? { optionalInt(column).map(Timestamp.date) }

    public func blob(_ column: String) throws -> [UInt8] {
        switch self[column] {
        case .blob(let value): return value
        case .text(let value): return Array(value.utf8)
        default: throw StoreError.corrupt("column \(column) is not a blob")
        }
    }
}

/// Microsecond timestamps, the unit of every time column.
public enum Timestamp {
    public static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }

    public static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    /// The date rounded to what the store keeps, so values compare equal after a round trip.
    public static func truncated(_ date: Date) -> Date { Self.date(micros(date)) }
}
