import HTTPTypes

/// Why a request could not be parsed, with the status the server answers before closing.
/// After any of these the byte stream's framing is unknown, so the connection is closed.
public enum HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Malformed syntax (400), with a one-line reason for the response body.
    case badRequest(String)
    /// Request line longer than `HTTPLimits.maxRequestLineBytes` (414).
    case requestLineTooLong
    /// Header section larger than `HTTPLimits.maxHeaderBytes` or too many fields (431).
    case headersTooLarge
    /// Declared body larger than `HTTPLimits.maxBodyBytes` (413).
    case bodyTooLarge
    /// A feature this server does not implement, e.g. `Transfer-Encoding` (501).
    case notImplemented(String)
    /// An HTTP major version other than 1 (505).
    case versionNotSupported
    /// An `Expect` value other than `100-continue` (417).
    case expectationFailed

    /// The status to answer with.
    public var status: HTTPResponse.Status {
        switch self {
        case .badRequest: return .badRequest
        case .requestLineTooLong: return .uriTooLong
        case .headersTooLarge: return .requestHeaderFieldsTooLarge
        case .bodyTooLarge: return .contentTooLarge
        case .notImplemented: return .notImplemented
        case .versionNotSupported: return .httpVersionNotSupported
        case .expectationFailed: return .expectationFailed
        }
    }

    /// One line for the response body and the log.
    public var description: String {
        switch self {
        case .badRequest(let why): return "bad request: \(why)"
        case .requestLineTooLong: return "request line too long"
        case .headersTooLarge: return "request header fields too large"
        case .bodyTooLarge: return "request body too large"
        case .notImplemented(let what): return "not implemented: \(what)"
        case .versionNotSupported: return "HTTP version not supported"
        case .expectationFailed: return "expectation not supported"
        }
    }
}
