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

}
