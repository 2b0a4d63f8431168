/// The 16 bytes every synthetic payload carries at a fixed offset after its codec
/// descriptor, so a viewer that decrypts can measure one-way latency and loss without
/// trusting the server's (rewritten) RTP fields: send time (monotonic ns, the same clock
/// on loopback), the stream's own packet counter, and a magic word to tell it from filler.
public struct MediaStamp: Equatable, Sendable {
    /// "LSFU": marks a real stamp.
    public static let magic: UInt32 = 0x4C53_4655
    /// Bytes on the wire.
    public static let size = 16
    /// Where the stamp sits in a VP8 payload: after the 1-byte payload descriptor and 10
    /// bytes reserved for the VP8 frame header (a keyframe's is 10 bytes, a delta frame's 3;
    /// continuation packets leave the room as filler so the offset never moves).
    public static let videoOffset = 11
    /// The same behind a 4-byte descriptor with a 15-bit picture ID (a simulcast layer's).
    public static let videoOffsetWithPictureID = 14
    /// Where the stamp sits in an Opus-like payload: after a 1-byte TOC.
    public static let audioOffset = 1

    /// Monotonic send time in nanoseconds.
    public var sendNanos: UInt64
    /// The stream's own packet counter (continuous from 0; independent of RTP seq).
    public var counter: UInt32

    public init(sendNanos: UInt64, counter: UInt32) {
        self.sendNanos = sendNanos
        self.counter = counter
    }

    /// Writes the stamp at `offset`; returns false if it does not fit.
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, buffer.count - offset >= Self.size else { return false }
        var o = offset
        for i in stride(from: 56, through: 0, by: -8) {
            buffer[o] = UInt8(truncatingIfNeeded: sendNanos >> UInt64(i))
            o += 1
        }
        for i in stride(from: 24, through: 0, by: -8) {
            buffer[o] = UInt8(truncatingIfNeeded: counter >> UInt32(i))
            o += 1
        }
        for i in stride(from: 24, through: 0, by: -8) {
            buffer[o] = UInt8(truncatingIfNeeded: Self.magic >> UInt32(i))
            o += 1
        }
        return true
    }

    /// Rewrites the send time of the stamp in an RTP packet (`length` bytes, plaintext),
    /// wherever the sources put it: after the synthetic VP8 descriptor (with or without a
    /// picture ID), or at the payload's
    /// end. Returns false when the packet carries no stamp.
    @discardableResult
    public static func restamp(packet: UnsafeMutableRawBufferPointer, length: Int, sendNanos: UInt64) -> Bool {
        guard length >= 12, length <= packet.count else { return false }
        var header = 12 + 4 * Int(packet[0] & 0x0F)
        if packet[0] & 0x10 != 0 {
            guard length >= header + 4 else { return false }
            header += 4 + 4 * (Int(packet[header + 2]) << 8 | Int(packet[header + 3]))
        }
        let payload = UnsafeMutableRawBufferPointer(rebasing: packet[0..<length])
        func rewrite(at offset: Int) -> Bool {
            guard offset >= header, let old = MediaStamp(reading: UnsafeRawBufferPointer(payload), at: offset) else {
                return false
            }
            return MediaStamp(sendNanos: sendNanos, counter: old.counter).write(into: payload, at: offset)
        }
        return rewrite(at: header + videoOffset) || rewrite(at: header + videoOffsetWithPictureID)
            || rewrite(at: length - size)
    }

    /// Reads a stamp at `offset`; nil if the bytes are too short or the magic is missing.
    public init?(reading buffer: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, buffer.count - offset >= Self.size else { return nil }
        var t: UInt64 = 0
        for i in 0..<8 { t = t << 8 | UInt64(buffer[offset + i]) }
        var c: UInt32 = 0
        for i in 8..<12 { c = c << 8 | UInt32(buffer[offset + i]) }
        var m: UInt32 = 0
        for i in 12..<16 { m = m << 8 | UInt32(buffer[offset + i]) }
        guard m == Self.magic else { return nil }
        sendNanos = t
        counter = c
    }
}
