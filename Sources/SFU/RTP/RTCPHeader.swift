/// The common header of one RTCP packet (RFC 3550 §6.4.1) and the bytes of that packet,
/// padding excluded. Views of every RTCP type are built on it.
public struct RTCPHeader {
    /// The packet, from its common header to the end of its body (padding excluded).
    public let bytes: UnsafeRawBufferPointer
    /// Whether the memory may be written through by the SSRC setters.
    let writable: Bool

    /// Packet type (200 SR, 201 RR, 202 SDES, 203 BYE, 205 RTPFB, 206 PSFB, ...).
    public var packetType: UInt8 { bytes[1] }
    /// Report/source count, or the feedback message type (FMT), from the low 5 bits.
    public var count: UInt8 { bytes[0] & 0x1F }

    public static let senderReportType: UInt8 = 200
    public static let receiverReportType: UInt8 = 201
    public static let sourceDescriptionType: UInt8 = 202
    public static let byeType: UInt8 = 203
    public static let transportFeedbackType: UInt8 = 205
    public static let payloadFeedbackType: UInt8 = 206

    /// The bytes for in-place rewriting; traps if the compound was parsed read-only.
    var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(writable, "RTCP parsed from read-only bytes cannot be rewritten")
        return UnsafeMutableRawBufferPointer(mutating: bytes)
    }

    func u32(_ o: Int) -> UInt32 { WireBytes.u32(bytes, o) }
    func put32(_ o: Int, _ v: UInt32) { WireBytes.put32(mutableBytes, o, v) }
}
