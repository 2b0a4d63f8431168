/// Reads and writes the fixed 12-byte RTP header fields the fanout rewrites, straight in the
/// packet bytes (RFC 3550 §5.1). The caller has already validated the packet.
struct RTPFixedHeader {
    let sequenceNumber: UInt16
    let timestamp: UInt32
    let ssrc: UInt32

    init(_ p: UnsafeMutableRawBufferPointer) {
        sequenceNumber = UInt16(p[2]) << 8 | UInt16(p[3])
        timestamp = UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7])
        ssrc = UInt32(p[8]) << 24 | UInt32(p[9]) << 16 | UInt32(p[10]) << 8 | UInt32(p[11])
    }

    static func write(sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, into p: UnsafeMutableRawBufferPointer) {
        p[2] = UInt8(truncatingIfNeeded: sequenceNumber >> 8)
        p[3] = UInt8(truncatingIfNeeded: sequenceNumber)
        p.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    /// Keeps the marker bit, replaces the 7-bit payload type.
    static func write(payloadType: UInt8, into p: UnsafeMutableRawBufferPointer) {
        p[1] = (p[1] & 0x80) | (payloadType & 0x7F)
    }
}
