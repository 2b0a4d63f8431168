/// Builds the RTCP a viewer sends (RR, PLI, generic NACK) and reads the feedback a
/// publisher gets (PLI, FIR, NACK). Writers return the length written, 0 if it does not fit.
///
/// Deliberately independent of the SFU's `RTCPWriter`/`RTCPCompound`, as `RTPWriter` is:
/// the server's RTCP parser is checked against packets it did not write, and the feedback
/// the server sends is counted by a reader that is not the server's own.
public enum LoadRTCP {
    /// A receiver report (RFC 3550 §6.4.2) with one report block per source given.
    public struct Block: Sendable {
        public var ssrc: UInt32
        public var fractionLost: UInt8
        public var cumulativeLost: UInt32
        public var highestSequence: UInt32
        public var jitter: UInt32
        public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: UInt32, highestSequence: UInt32, jitter: UInt32) {
            self.ssrc = ssrc
            self.fractionLost = fractionLost
            self.cumulativeLost = cumulativeLost
            self.highestSequence = highestSequence
            self.jitter = jitter
        }
    }

    public static func receiverReport(into b: UnsafeMutableRawBufferPointer, sender: UInt32, blocks: [Block]) -> Int {
        let n = min(blocks.count, 31)
        let length = 8 + 24 * n
        guard b.count >= length else { return 0 }
        b[0] = 0x80 | UInt8(n)
        b[1] = 201
        put16(b, 2, UInt16(length / 4 - 1))
        RTPWriter.put32(b, 4, sender)
        for i in 0..<n {
            let o = 8 + 24 * i
            let k = blocks[i]
            RTPWriter.put32(b, o, k.ssrc)
            RTPWriter.put32(b, o + 4, UInt32(k.fractionLost) << 24 | (min(k.cumulativeLost, 0x7F_FFFF)))
            RTPWriter.put32(b, o + 8, k.highestSequence)
            RTPWriter.put32(b, o + 12, k.jitter)
            RTPWriter.put32(b, o + 16, 0)  // LSR: no SR seen
            RTPWriter.put32(b, o + 20, 0)
        }
        return length
    }

    /// Picture Loss Indication (RFC 4585 §6.3.1).
    public static func pli(into b: UnsafeMutableRawBufferPointer, sender: UInt32, media: UInt32) -> Int {
        guard b.count >= 12 else { return 0 }
        b[0] = 0x81
        b[1] = 206
        put16(b, 2, 2)
        RTPWriter.put32(b, 4, sender)
        RTPWriter.put32(b, 8, media)
        return 12
    }

    /// Generic NACK (RFC 4585 §6.2.1) for `count` packets from `first`.
    public static func nack(into b: UnsafeMutableRawBufferPointer, sender: UInt32, media: UInt32, first: UInt16, count: Int) -> Int {
        let entries = (count + 16) / 17
        let length = 12 + 4 * entries
        guard count > 0, b.count >= length else { return 0 }
        b[0] = 0x81
        b[1] = 205
        put16(b, 2, UInt16(length / 4 - 1))
        RTPWriter.put32(b, 4, sender)
        RTPWriter.put32(b, 8, media)
        var left = count
        var seq = first
        for e in 0..<entries {
            let o = 12 + 4 * e
            var blp: UInt16 = 0
            let extra = min(left - 1, 16)
            for i in 0..<extra { blp |= 1 << UInt16(i) }
            put16(b, o, seq)
            put16(b, o + 2, blp)
            left -= 1 + extra
            seq &+= UInt16(1 + extra)
        }
        return length
    }

    @inline(__always)
    static func put16(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt16) {
        b[o] = UInt8(v >> 8)
        b[o + 1] = UInt8(truncatingIfNeeded: v)
    }

    /// Feedback found in a compound RTCP packet.
    public struct Feedback: Sendable, Equatable {
        public var keyframeRequests = 0
        public var nacks = 0
        public init() {}
    }

    /// Calls `body` with every sequence number a generic NACK in the (decrypted) compound
    /// packet asks for, with the media SSRC it names.
    public static func forEachNackedSequence(_ b: UnsafeRawBufferPointer, _ body: (UInt32, UInt16) -> Void) {
        var o = 0
        while b.count - o >= 4 {
            guard b[o] >> 6 == 2 else { break }
            let len = ((Int(b[o + 2]) << 8) | Int(b[o + 3])) * 4 + 4
            guard o + len <= b.count else { break }
            if b[o + 1] == 205 && b[o] & 0x1F == 1 && len >= 16 {
                let media = UInt32(b[o + 8]) << 24 | UInt32(b[o + 9]) << 16 | UInt32(b[o + 10]) << 8 | UInt32(b[o + 11])
                var f = o + 12
                while f + 4 <= o + len {
                    let pid = UInt16(b[f]) << 8 | UInt16(b[f + 1])
                    let blp = UInt16(b[f + 2]) << 8 | UInt16(b[f + 3])
                    body(media, pid)
                    for i in 0..<16 where blp & (1 << UInt16(i)) != 0 { body(media, pid &+ UInt16(i + 1)) }
                    f += 4
                }
            }
            o += len
        }
    }

    /// Calls `body` with the media SSRC of every keyframe request in the (decrypted) compound
    /// packet: a PLI's media source, each FCI entry's SSRC of a FIR (RFC 5104 §4.3.1).
    public static func forEachKeyframeRequest(_ b: UnsafeRawBufferPointer, _ body: (UInt32) -> Void) {
        var o = 0
        while b.count - o >= 4 {
            guard b[o] >> 6 == 2 else { break }
            let len = ((Int(b[o + 2]) << 8) | Int(b[o + 3])) * 4 + 4
            guard o + len <= b.count else { break }
            if b[o + 1] == 206 && b[o] & 0x1F == 1 && len >= 12 {
                body(read32(b, o + 8))
            } else if b[o + 1] == 206 && b[o] & 0x1F == 4 {
                var f = o + 12
                while f + 8 <= o + len {
                    body(read32(b, f))
                    f += 8
                }
            }
            o += len
        }
    }

    @inline(__always)
    static func read32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }

    /// Walks a (decrypted) compound packet and counts PLI/FIR and NACK packets.
    public static func scanFeedback(_ b: UnsafeRawBufferPointer) -> Feedback {
        var f = Feedback()
        var o = 0
        while b.count - o >= 4 {
            guard b[o] >> 6 == 2 else { break }
            let fmt = b[o] & 0x1F
            let pt = b[o + 1]
            let len = (Int(b[o + 2]) << 8 | Int(b[o + 3]) + 1) * 4
            guard len >= 4, o + len <= b.count else { break }
            if pt == 206 && (fmt == 1 || fmt == 4) { f.keyframeRequests += 1 }
            if pt == 205 && fmt == 1 { f.nacks += 1 }
            o += len
        }
        return f
    }
}
