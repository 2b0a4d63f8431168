/// A BYE packet (PT 203, RFC 3550 §6.6) view.
public struct RTCPBye {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 4 + 4 * Int(h.count) else { throw .malformed(packetType: h.packetType, format: h.count) }
        header = h
    }

    public var ssrcCount: Int { Int(header.count) }

    public func ssrc(at i: Int) -> UInt32 {
        precondition(i >= 0 && i < ssrcCount)
        return header.u32(4 + 4 * i)
    }

    public func setSSRC(_ ssrc: UInt32, at i: Int) {
        precondition(i >= 0 && i < ssrcCount)
        header.put32(4 + 4 * i, ssrc)
    }
}
