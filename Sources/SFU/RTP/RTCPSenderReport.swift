/// A sender report (PT 200, RFC 3550 §6.4.1) view.
public struct RTCPSenderReport {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 28 + RTCPReportBlock.size * Int(h.count) else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
        header = h
    }

    /// SSRC of the sender; settable when the compound was parsed from mutable bytes.
    public var ssrc: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    public var ntpTimestamp: UInt64 { WireBytes.u64(header.bytes, 8) }
    public var rtpTimestamp: UInt32 {
        get { header.u32(16) }
        nonmutating set { header.put32(16, newValue) }
    }
    public var packetCount: UInt32 { header.u32(20) }
    public var octetCount: UInt32 { header.u32(24) }
    public var reportCount: Int { Int(header.count) }

    public func reportBlock(at i: Int) -> RTCPReportBlock {
        precondition(i >= 0 && i < reportCount)
        return RTCPReportBlock(reading: header.bytes, at: 28 + RTCPReportBlock.size * i)
    }

    /// Rewrites the source SSRC of report block `i`.
    public func setReportBlockSSRC(_ ssrc: UInt32, at i: Int) {
        precondition(i >= 0 && i < reportCount)
        header.put32(28 + RTCPReportBlock.size * i, ssrc)
    }
}
