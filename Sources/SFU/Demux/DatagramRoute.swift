import Reactor

/// Where a datagram that arrived on a core's media socket goes: its kind from its first byte
/// (RFC 7983), its session from its source address, or for a first STUN check from a new
/// address, from the local ufrag in its USERNAME.
enum DatagramRoute {
    case stun(PeerSession)
    case dtls(PeerSession)
    case rtp(PeerSession)
    case rtcp(PeerSession)
    /// DTLS, RTP or RTCP from an address no session has validated.
    case unknownSource
    /// STUN that names no live session.
    case unknownUfrag
    /// Neither STUN, DTLS, RTP nor RTCP.
    case garbage

    @inline(__always)
    static func route(_ bytes: UnsafeRawBufferPointer, from source: SocketAddress, in sessions: SessionRegistry)
        -> DatagramRoute
    {
        let kind = PacketKind.classify(bytes)
        if kind == .unknown { return .garbage }
        let known = sessions.session(at: source)
        switch kind {
        case .stun:
            guard let s = known ?? firstCheck(bytes, in: sessions), s.state != .closed else { return .unknownUfrag }
            return .stun(s)
        case .dtls: return known.map { .dtls($0) } ?? .unknownSource
        case .rtp: return known.map { .rtp($0) } ?? .unknownSource
        case .rtcp: return known.map { .rtcp($0) } ?? .unknownSource
        case .unknown: return .garbage
        }
    }

    /// The session a STUN check from a new address is for: by the local ufrag in USERNAME.
    private static func firstCheck(_ bytes: UnsafeRawBufferPointer, in sessions: SessionRegistry) -> PeerSession? {
        guard let message = try? StunMessage(parsing: bytes), let user = message.username,
            let colon = user.firstIndex(of: ":")
        else { return nil }
        return sessions.session(ufrag: String(user[..<colon]))
    }
}
