/// A business error, phrased for the API caller. The HTTP layer maps each case to its
/// status with `{"detail": message}`; nothing else about the error reaches the caller.
public enum ControlPlaneError: Error, CustomStringConvertible, Equatable {
    /// 400: the request is well-formed but asks for something impossible.
    case badRequest(String)
    /// 401: no valid credential.
    case unauthorized(String)
    /// 403: a valid credential that may not do this.
    case forbidden(String)
    /// 404: no such resource in the caller's organization.
    case notFound(String)
    /// 409: the resource is in a state that forbids the change.
    case conflict(String)
    /// 413: the body or a file is larger than the server accepts.
    case tooLarge(String)
    /// 503: the store or the disk cannot take the change now; retrying later may work.
    case unavailable(String)
    /// 504: a machine did not answer in time.
    case gatewayTimeout(String)

    public var description: String {
        switch self {
        case .badRequest(let message), .unauthorized(let message), .forbidden(let message), .notFound(let message),
            .conflict(let message), .tooLarge(let message), .unavailable(let message), .gatewayTimeout(let message):
            message
        }
    }
}
