/// Pads a frame's shorter packets so each viewer's copies of the frame leave as one GSO run.
///
/// The kernel sends a run of datagrams to one destination as one message only when every one
/// has the first one's size (the last may be shorter), and a message costs several times what a
/// datagram inside one costs. libwebrtc splits a frame about equally with its *last* packets one
/// byte larger (`RtpPacketizer::SplitAboutEqually`: 963, 963, 963, 964), so a Chromium frame
/// went out as two or three messages per viewer. RTP padding (RFC 3550 5.1) on the shorter ones
/// makes them equal at a cost of a few bytes each; receivers drop it before depacketizing.
enum RunPadding {
    /// Most bytes one packet is padded by (more would cost more bandwidth than the run saves).
    static let maximumBytes = 8

    /// Plans the padding of `count` held packets: `pads[k]` bytes for packet k (0: none).
    /// Packets of one frame (consecutive, same RTP timestamp) shorter than the frame's longest
    /// by at most `maximumBytes` are padded to it, except the frame's last here (a shorter last
    /// datagram ends a run without breaking it) and packets that carry padding already. True
    /// when any packet is padded.
    static func plan(_ packets: UnsafePointer<UnsafeRawBufferPointer>, count: Int, into pads: UnsafeMutablePointer<UInt8>) -> Bool {
        var any = false
        var start = 0
        while start < count {
            let timestamp = WireBytes.u32(packets[start], 4)
            var end = start + 1
            var longest = packets[start].count
            while end < count, WireBytes.u32(packets[end], 4) == timestamp {
                longest = max(longest, packets[end].count)
                end += 1
            }
            for k in start..<end {
                let p = packets[k]
                let short = longest - p.count
                let pad = k < end - 1 && short <= maximumBytes && p[0] & 0x20 == 0 ? short : 0
                pads[k] = UInt8(pad)
                if pad > 0 { any = true }
            }
            start = end
        }
        return any
    }

    /// Pads the RTP packet in `slot[0..<length]` by `pad` bytes (≥ 1): the P bit, zeros, and
    /// the count in the last byte. The slot must hold `length + pad` bytes.
    @inline(__always)
    static func apply(_ slot: UnsafeMutableRawBufferPointer, length: Int, pad: Int) {
        slot[0] |= 0x20
        for i in length..<(length + pad - 1) { slot[i] = 0 }
        slot[length + pad - 1] = UInt8(pad)
    }
}
