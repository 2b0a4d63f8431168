/// A Picture Loss Indication (PSFB FMT 1, RFC 4585 §6.3.1) view.
public struct RTCPPictureLossIndication {
    public let header: RTCPHeader

    init(validating h: RTCPHeader) throws(RTCPError) {
        guard h.bytes.count >= 12 else { throw .malformed(packetType: h.packetType, format: h.count) }
        header = h
    }

    public var senderSSRC: UInt32 {
        get { header.u32(4) }
        nonmutating set { header.put32(4, newValue) }
    }
    public var mediaSSRC: UInt32 {
        get { header.u32(8) }
        nonmutating set { header.put32(8, newValue) }
    }
}
