/// Receiver Estimated Maximum Bitrate (PSFB FMT 15 "REMB", draft-alvestrand-rmcat-remb-03).
public struct RTCPRemb {
    public let header: RTCPHeader

    /// True if a PSFB FMT 15 packet carries the "REMB" identifier.
    static func matches(_ h: RTCPHeader) -> Bool {
        h.bytes.count >= 16 && h.u32(12) == 0x5245_4D42
    }

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 20, h.bytes.count >= 20 + 4 * Int(h.bytes[16]) else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
        header = h
    }

    public var senderSSRC: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    /// Estimated bitrate in bits per second (mantissa << exponent).
    public var bitrate: UInt64 {
        let exp = header.bytes[17] >> 2
        let mantissa = UInt64(header.u32(16) & 0x3_FFFF)
        return exp > 46 ? UInt64.max : mantissa << UInt64(exp)
    }
    public var ssrcCount: Int { Int(header.bytes[16]) }

    public func ssrc(at i: Int) -> UInt32 {
        precondition(i >= 0 && i < ssrcCount)
        return header.u32(20 + 4 * i)
    }

    public func setSSRC(_ ssrc: UInt32, at i: Int) {
        precondition(i >= 0 && i < ssrcCount)
        header.put32(20 + 4 * i, ssrc)
    }
}
