/// Why an SDP could not be parsed or answered. Every case carries a one-line reason that can go
/// straight into an HTTP 4xx body.
public enum SDPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A line is not valid SDP; `line` is 1-based.
    case malformed(line: Int, reason: String)
    /// The description is beyond the parser's limits (`SDPLimits`).
    case tooLarge(String)
    /// Something the server needs is absent (ICE credentials, fingerprint, mid…).
    case missing(String)
    /// Valid SDP asking for something the server does not do (no rtcp-mux, DTLS active, …).
    case unsupported(String)
    /// Not a single audio or video m-line the server can accept.
    case noUsableMedia(String)

    public var description: String {
        switch self {
        case .malformed(let line, let reason): "malformed SDP at line \(line): \(reason)"
        case .tooLarge(let reason): "SDP too large: \(reason)"
        case .missing(let reason): "SDP incomplete: \(reason)"
        case .unsupported(let reason): "SDP not supported: \(reason)"
        case .noUsableMedia(let reason): "no usable media in SDP: \(reason)"
        }
    }

    /// The HTTP status a WHIP/WHEP handler should answer with: 400 for a description that is
    /// not valid SDP, 413 when it is too large, 422 for valid SDP the server cannot serve.
    public var httpStatus: Int {
        switch self {
        case .malformed: 400
        case .tooLarge: 413
        case .missing, .unsupported, .noUsableMedia: 422
        }
    }
}
