/// Writes RTP headers (RFC 3550) and reads the few fields a counting viewer needs from the
/// clear header of an SRTP packet. No allocation; every read checks lengths.
///
/// Deliberately independent of the SFU's `RTPPacketBuilder`/`RTPPacket`: the load tool
/// checks the server from outside, so the server's RTP parser is fed headers it did not
/// build, and what it forwards is read by a parser that does not share its mistakes (a bug
/// in one shared parser would make both ends agree on a wrong packet).
public enum RTPWriter {
    /// Writes a 12-byte header, plus a one-byte-form header extension carrying the MID
    /// (RFC 8843) when `midExtensionID` is non-zero. Returns the header length, or 0 if the
    /// buffer is too short.
    public static func writeHeader(
        into b: UnsafeMutableRawBufferPointer, payloadType: UInt8, marker: Bool, sequence: UInt16,
        timestamp: UInt32, ssrc: UInt32, midExtensionID: UInt8 = 0, mid: UInt8 = 0
    ) -> Int {
        let ext = midExtensionID != 0
        let length = ext ? 20 : 12
        guard b.count >= length else { return 0 }
        b[0] = ext ? 0x90 : 0x80
        b[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        b[2] = UInt8(sequence >> 8)
        b[3] = UInt8(truncatingIfNeeded: sequence)
        put32(b, 4, timestamp)
        put32(b, 8, ssrc)
        if ext {
            b[12] = 0xBE
            b[13] = 0xDE
            b[14] = 0
            b[15] = 1  // one 32-bit word of extensions
            b[16] = (midExtensionID << 4) | 0  // length - 1 = 0: one byte
            b[17] = mid
            b[18] = 0
            b[19] = 0
        }
        return length
    }

    /// Header bytes `writeHeader` writes: 12, plus the one-byte-form extension block (RFC 8285)
    /// holding the MID and the RID elements there are, padded to 32-bit words.
    public static func headerLength(midExtensionID: UInt8, ridExtensionID: UInt8 = 0, ridLength: Int = 0) -> Int {
        let elements = (midExtensionID != 0 ? 2 : 0) + (ridExtensionID != 0 && ridLength > 0 ? 1 + ridLength : 0)
        return elements == 0 ? 12 : 16 + (elements + 3) / 4 * 4
    }

    /// Writes a header for a simulcast layer's packet: the MID element (if `midExtensionID`
    /// is non-zero) and the RID element (RFC 8852, `rid` of 1 to 16 bytes) that places the
    /// packet's SSRC on its layer. Returns the header length, or 0 if the buffer is too short.
    public static func writeHeader(
        into b: UnsafeMutableRawBufferPointer, payloadType: UInt8, marker: Bool, sequence: UInt16,
        timestamp: UInt32, ssrc: UInt32, midExtensionID: UInt8, mid: UInt8, ridExtensionID: UInt8, rid: [UInt8]
    ) -> Int {
        guard ridExtensionID != 0, !rid.isEmpty, rid.count <= 16 else {
            return writeHeader(into: b, payloadType: payloadType, marker: marker, sequence: sequence,
                               timestamp: timestamp, ssrc: ssrc, midExtensionID: midExtensionID, mid: mid)
        }
        let length = headerLength(midExtensionID: midExtensionID, ridExtensionID: ridExtensionID, ridLength: rid.count)
        guard b.count >= length else { return 0 }
        b[0] = 0x90
        b[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        b[2] = UInt8(sequence >> 8)
        b[3] = UInt8(truncatingIfNeeded: sequence)
        put32(b, 4, timestamp)
        put32(b, 8, ssrc)
        b[12] = 0xBE
        b[13] = 0xDE
        b[14] = 0
        b[15] = UInt8((length - 16) / 4)
        var o = 16
        if midExtensionID != 0 {
            b[o] = midExtensionID << 4  // length - 1 = 0: one byte
            b[o + 1] = mid
            o += 2
        }
        b[o] = ridExtensionID << 4 | UInt8(rid.count - 1)
        o += 1
        for c in rid {
            b[o] = c
            o += 1
        }
        while o < length {  // padding
            b[o] = 0
            o += 1
        }
        return length
    }

    @inline(__always)
    static func put32(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt32) {
        b[o] = UInt8(v >> 24)
        b[o + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[o + 2] = UInt8(truncatingIfNeeded: v >> 8)
        b[o + 3] = UInt8(truncatingIfNeeded: v)
    }
}

/// The clear fields of an RTP (or SRTP) packet header.
public struct RTPHeaderView: Sendable {
    public var payloadType: UInt8
    public var marker: Bool
    public var sequence: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// Offset of the payload (after CSRCs and the header extension).
    public var payloadOffset: Int
    /// Padding bytes at the end (only meaningful once decrypted).
    public var padding: Int

    /// Parses the header; nil for anything that is not a well-formed RTP version 2 header.
    public init?(_ b: UnsafeRawBufferPointer) {
        guard b.count >= 12, b[0] >> 6 == 2 else { return nil }
        let cc = Int(b[0] & 0x0F)
        var off = 12 + cc * 4
        guard b.count >= off else { return nil }
        if b[0] & 0x10 != 0 {
            guard b.count >= off + 4 else { return nil }
            let words = Int(b[off + 2]) << 8 | Int(b[off + 3])
            off += 4 + words * 4
            guard b.count >= off else { return nil }
        }
        payloadType = b[1] & 0x7F
        marker = b[1] & 0x80 != 0
        sequence = UInt16(b[2]) << 8 | UInt16(b[3])
        timestamp = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        ssrc = UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11])
        payloadOffset = off
        padding = 0
        if b[0] & 0x20 != 0, let last = b.last { padding = Int(last) }
    }
}
