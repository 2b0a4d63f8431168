/// What a datagram on the shared media socket is, decided from its first bytes
/// (RFC 7983 §7; RTP vs RTCP by RFC 5761 §4).
public enum PacketKind: Sendable, Equatable {
    case stun, dtls, rtp, rtcp, unknown

    /// Classifies `bytes` without reading past its end. STUN needs a full 20-byte header,
    /// RTP/RTCP at least the 2 bytes that tell them apart; ZRTP and TURN channel data are
    /// `.unknown` (the SFU does not speak them).
    @inlinable
    public static func classify(_ bytes: UnsafeRawBufferPointer) -> PacketKind {
        guard let first = bytes.first else { return .unknown }
        switch first {
        case 0...3:
            return bytes.count >= 20 ? .stun : .unknown
        case 20...63:
            return .dtls
        case 128...191:
            guard bytes.count >= 2 else { return .unknown }
            // RTCP packet types 192-223 never collide with an RTP payload type plus marker bit
            // once dynamic RTP payload types stay in 96-127 (RFC 5761 §4).
            return (192...223).contains(bytes[1]) ? .rtcp : .rtp
        default:
            return .unknown
        }
    }
}
