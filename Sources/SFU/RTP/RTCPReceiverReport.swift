/// A receiver report (PT 201, RFC 3550 §6.4.2) view.
public struct RTCPReceiverReport {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 8 + RTCPReportBlock.size * Int(h.count) else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
        header = h
    }

    /// SSRC of the reporter; settable when parsed from mutable bytes.
    public var ssrc: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    public var reportCount: Int { Int(header.count) }

    public func reportBlock(at i: Int) -> RTCPReportBlock {
        precondition(i >= 0 && i < reportCount)
        return RTCPReportBlock(reading: header.bytes, at: 8 + RTCPReportBlock.size * i)
    }

    /// Rewrites the source SSRC of report block `i` (the media SSRC the report is about).
    public func setReportBlockSSRC(_ ssrc: UInt32, at i: Int) {
        precondition(i >= 0 && i < reportCount)
        header.put32(8 + RTCPReportBlock.size * i, ssrc)
    }
}
