/// Finds the start of a keyframe in an RTP payload, so a viewer can be started (or a PLI
/// answered) on a decodable frame. Reads only the payload descriptor/NAL headers; never
/// traps on short or garbage payloads (they are simply not keyframes).
public enum KeyframeDetector {
    /// True if `payload` (the RTP payload, padding excluded) begins a keyframe.
    public static func isKeyframe(codec: VideoCodec, payload: UnsafeRawBufferPointer) -> Bool {
        switch codec {
        case .vp8: vp8(payload)
        case .vp9: vp9(payload)
        case .h264: h264(payload)
        case .av1: av1(payload)
        }
    }

    /// RFC 7741 §4.2-4.3: payload descriptor, then the VP8 payload header whose P bit
    /// (bit 0 of the first byte) is 0 on a key frame; only meaningful with S=1 and PID=0.
    static func vp8(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1 else { return false }
        let b0 = p[0]
        guard b0 & 0x10 != 0, b0 & 0x07 == 0 else { return false }  // S=1, partition 0
        var o = 1
        if b0 & 0x80 != 0 {  // X: extended control bits
            guard p.count > o else { return false }
            let x = p[o]
            o += 1
            if x & 0x80 != 0 {  // I: PictureID, 7 or 15 bits
                guard p.count > o else { return false }
                o += p[o] & 0x80 != 0 ? 2 : 1
            }
            if x & 0x40 != 0 { o += 1 }  // L: TL0PICIDX
            if x & 0x30 != 0 { o += 1 }  // T or K: TID/Y/KEYIDX
        }
        guard p.count > o else { return false }
        return p[o] & 0x01 == 0
    }

    /// RFC 9628 §4.2: P=0 (not inter-predicted) with B=1 (start of a frame) on the base
    /// spatial layer.
    static func vp9(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1 else { return false }
        let b0 = p[0]
        let pBit = b0 & 0x40 != 0
        let bBit = b0 & 0x08 != 0
        guard !pBit, bBit else { return false }
        guard b0 & 0x20 != 0 else { return true }  // L=0: no layer indices, single layer
        var o = 1
        if b0 & 0x80 != 0 {  // I: picture id
            guard p.count > o else { return false }
            o += p[o] & 0x80 != 0 ? 2 : 1
        }
        guard p.count > o else { return false }
        let sid = (p[o] >> 1) & 0x07
        return sid == 0
    }

    /// RFC 6184: an IDR slice (5) or SPS (7), as a single NAL unit, inside a STAP-A (24),
    /// or at the start of an FU-A (28).
    static func h264(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 1 else { return false }
        let type = p[0] & 0x1F
        switch type {
        case 5, 7:
            return true
        case 24:
            var o = 1
            while o + 2 < p.count {
                let size = Int(WireBytes.u16(p, o))
                guard size > 0, o + 2 + size <= p.count else { return false }
                let t = p[o + 2] & 0x1F
                if t == 5 || t == 7 { return true }
                o += 2 + size
            }
            return false
        case 28:
            guard p.count >= 2 else { return false }
            let fu = p[1]
            let t = fu & 0x1F
            return fu & 0x80 != 0 && (t == 5 || t == 7)
        default:
            return false
        }
    }

    /// AV1 RTP spec §4.4: the N bit of the aggregation header marks the first packet of a
    /// new coded video sequence, which starts with a key frame.
    static func av1(_ p: UnsafeRawBufferPointer) -> Bool {
        guard p.count >= 2 else { return false }
        return p[0] & 0x08 != 0
    }
}
