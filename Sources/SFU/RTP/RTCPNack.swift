/// A generic NACK (RTPFB FMT 1, RFC 4585 §6.2.1) view: pairs of (PID, BLP).
public struct RTCPNack {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 16, (h.bytes.count - 12) % 4 == 0 else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
        header = h
    }

    /// SSRC of the viewer sending the NACK; settable when parsed from mutable bytes.
    public var senderSSRC: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    /// SSRC of the stream with losses; the SFU rewrites it to the publisher's SSRC.
    public var mediaSSRC: UInt32 {
        get { header.u32(8) }
        nonmutating set { header.put32(8, newValue) }
    }
    public var pairCount: Int { (header.bytes.count - 12) / 4 }

    /// The i-th (packet id, bitmask of the 16 following lost packets).
    public func pair(at i: Int) -> (packetID: UInt16, bitmask: UInt16) {
        precondition(i >= 0 && i < pairCount)
        return (WireBytes.u16(header.bytes, 12 + 4 * i), WireBytes.u16(header.bytes, 14 + 4 * i))
    }

    /// Calls `body` with every sequence number reported lost, in packet order.
    public func forEachLostSequence(_ body: (UInt16) -> Void) {
        for i in 0..<pairCount {
            let (pid, blp) = pair(at: i)
            body(pid)
            for bit in 0..<16 where blp & (1 << bit) != 0 { body(pid &+ UInt16(bit + 1)) }
        }
    }
}
