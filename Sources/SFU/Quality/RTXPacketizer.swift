/// RTP retransmission payload format (RFC 4588 §4): a resent packet travels on its own
/// SSRC, sequence space and payload type, with the original sequence number (OSN) as the
/// first two bytes of the payload, so the receiver's loss statistics of the media stream are
/// not disturbed by repairs.
public enum RTXPacketizer {
    /// Writes `original` as an RTX packet into `out` and returns its length. The header
    /// (CSRCs and extensions included) is copied with the RTX payload type, SSRC and
    /// sequence number; padding is dropped.
    public static func wrap(
        _ original: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
        ssrc: UInt32, sequenceNumber: UInt16, payloadType: UInt8
    ) throws(RTPError) -> Int {
        // The view never writes: parsing needs the mutable type only.
        let view = try RTPPacket(parsing: UnsafeMutableRawBufferPointer(mutating: original))
        let header = view.headerLength
        let payload = view.payloadRange
        let length = header + 2 + payload.count
        guard length <= out.count else { throw .bufferTooSmall(needed: length, capacity: out.count) }
        guard let src = original.baseAddress, let dst = out.baseAddress else { throw .truncated(count: 0) }
        dst.copyMemory(from: src, byteCount: header)
        out[0] &= ~0x20  // no padding in the RTX packet
        out[1] = (out[1] & 0x80) | (payloadType & 0x7F)
        WireBytes.put16(out, 2, sequenceNumber)
        WireBytes.put32(out, 8, ssrc)
        WireBytes.put16(out, header, view.sequenceNumber)
        if !payload.isEmpty {
            (dst + header + 2).copyMemory(from: src + payload.lowerBound, byteCount: payload.count)
        }
        return length
    }

    /// Why an RTX packet cannot be unwrapped.
    public enum UnwrapError: Error, Equatable, Sendable, CustomStringConvertible {
        /// No original sequence number: a padding-only probe, which carries no media.
        case noOriginalSequenceNumber

        public var description: String {
            switch self {
            case .noOriginalSequenceNumber: "RTX packet has no original sequence number (padding probe)"
            }
        }
    }

    /// Turns an RTX packet back into the original in place: payload type, SSRC and sequence
    /// number restored, the OSN removed (the payload moves up two bytes), padding dropped.
    /// Returns the original packet's length (the first bytes of `rtx.buffer`).
    public static func unwrap(
        _ rtx: RTPPacket, ssrc: UInt32, payloadType: UInt8
    ) throws(UnwrapError) -> Int {
        let payload = rtx.payloadRange
        guard payload.count >= 2 else { throw .noOriginalSequenceNumber }
        let b = rtx.buffer
        let osn = WireBytes.u16(UnsafeRawBufferPointer(b), payload.lowerBound)
        let mediaCount = payload.count - 2
        if mediaCount > 0, let base = b.baseAddress {
            (base + payload.lowerBound).copyMemory(from: base + payload.lowerBound + 2, byteCount: mediaCount)
        }
        b[0] &= ~0x20
        b[1] = (b[1] & 0x80) | (payloadType & 0x7F)
        WireBytes.put16(b, 2, osn)
        WireBytes.put32(b, 8, ssrc)
        return rtx.headerLength + mediaCount
    }
}
