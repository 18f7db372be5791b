/// Errors from the store, phrased for the API caller or the operator.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// A uniqueness or foreign-key constraint refused the change.
    case conflict(String)
    /// The database cannot be reached or written (disk full, read-only, locked too long).
    case unavailable(String)
    /// A stored value could not be read back; the store is damaged or from a newer version.
    case corrupt(String)

    public var description: String {
        switch self {
        case .conflict(let message), .unavailable(let message), .corrupt(let message): message
        }
    }

    static func from(sqlite error: any Error) -> StoreError {
        let text = String(describing: error)
        if text.contains("constraint") || text.contains("UNIQUE") {
            return .conflict(text)
        }
        // SQLITE_FULL: the transaction was rolled back; the store is intact.
        if text.contains("disk is full") || text.contains("SQLITE_FULL") {
            return .unavailable(DiskFull.message)
        }
        return .unavailable("database error: \(text)")
    }
}
