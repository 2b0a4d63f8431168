/// Which end of the DTLS handshake a transport plays (RFC 5763 §5: `a=setup`).
public enum DTLSRole: Sendable, Hashable {
    /// Passive (`a=setup:passive`): waits for the peer's ClientHello. The SFU's role.
    case server
    /// Active (`a=setup:active`): sends the ClientHello. The load generator's role.
    case client
}
