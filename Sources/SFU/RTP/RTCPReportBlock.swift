/// One reception report block of an SR or RR (RFC 3550 §6.4.1), as plain values.
public struct RTCPReportBlock: Equatable, Sendable {
    public var ssrc: UInt32
    /// Fraction lost since the last report, in 1/256 units.
    public var fractionLost: UInt8
    /// Cumulative packets lost (24-bit signed).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received.
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, extendedHighestSequence: UInt32 = 0,
        jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static let size = 24

    init(reading b: UnsafeRawBufferPointer, at o: Int) {
        ssrc = WireBytes.u32(b, o)
        fractionLost = b[o + 4]
        let raw = WireBytes.u24(b, o + 5)
        cumulativeLost = Int32(bitPattern: raw << 8) >> 8  // sign-extend 24 bits
        extendedHighestSequence = WireBytes.u32(b, o + 8)
        jitter = WireBytes.u32(b, o + 12)
        lastSenderReport = WireBytes.u32(b, o + 16)
        delaySinceLastSenderReport = WireBytes.u32(b, o + 20)
    }

    func write(to b: UnsafeMutableRawBufferPointer, at o: Int) {
        WireBytes.put32(b, o, ssrc)
        b[o + 4] = fractionLost
        WireBytes.put24(b, o + 5, UInt32(bitPattern: cumulativeLost) & 0xFF_FFFF)
        WireBytes.put32(b, o + 8, extendedHighestSequence)
        WireBytes.put32(b, o + 12, jitter)
        WireBytes.put32(b, o + 16, lastSenderReport)
        WireBytes.put32(b, o + 20, delaySinceLastSenderReport)
    }
}
