/// `a=setup` (RFC 4145, RFC 8842): which side opens the DTLS connection.
public enum SDPSetupRole: String, Hashable, Sendable, CaseIterable {
    case active
    case passive
    case actpass
    case holdconn
}
