/// A Full Intra Request (PSFB FMT 4, RFC 5104 §4.3.1) view: entries of (SSRC, seq nr).
public struct RTCPFullIntraRequest {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 20, (h.bytes.count - 12) % 8 == 0 else {
            throw .malformed(packetType: h.packetType, format: h.count)
        }
        header = h
    }

    public var senderSSRC: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    public var entryCount: Int { (header.bytes.count - 12) / 8 }

    public func entry(at i: Int) -> (ssrc: UInt32, sequenceNumber: UInt8) {
        precondition(i >= 0 && i < entryCount)
        return (header.u32(12 + 8 * i), header.bytes[16 + 8 * i])
    }

    /// Rewrites the media SSRC of entry `i`.
    public func setEntrySSRC(_ ssrc: UInt32, at i: Int) {
        precondition(i >= 0 && i < entryCount)
        header.put32(12 + 8 * i, ssrc)
    }
}
