/// What a viewer that moved between simulcast layers adds to every packet of its layer, so it
/// sees one stream: sequence numbers, timestamps and (VP8, VP9) picture IDs and TL0PICIDX
/// going on from what it got on the layer before. A viewer that never moved has none and
/// costs nothing (`ViewerTrack.rewrites` is false).
struct StreamOffsets: Equatable {
    var sequence: UInt16 = 0
    var timestamp: UInt32 = 0
    var pictureID: UInt16 = 0
    var tl0PicIdx: UInt8 = 0
    /// Whose payload descriptor carries the picture ID (nil: none rewritten).
    var codec: VideoCodec?

    /// Offsets that make a stream going on at keyframe `key` (numbered `start`) continue the
    /// one a viewer got so far: its last packet was numbered `lastSequence` (in the same
    /// numbering as `start`, before `previous` was added) and is `last`, nil when no longer
    /// stored (the numbering still continues; timestamps and picture IDs then jump). The
    /// keyframe comes `frameTicks` after the last packet's timestamp.
    static func continuing(
        last: UnsafeRawBufferPointer?, lastSequence: UInt16, previous old: StreamOffsets, keyframe key: UnsafeRawBufferPointer,
        start: UInt16, codec: VideoCodec?, frameTicks: UInt32
    ) -> StreamOffsets {
        var offsets = StreamOffsets(codec: codec)
        offsets.sequence = (lastSequence &+ old.sequence &+ 1) &- start
        guard let last, last.count >= 12, key.count >= 12 else { return offsets }
        offsets.timestamp = (WireBytes.u32(last, 4) &+ old.timestamp &+ frameTicks) &- WireBytes.u32(key, 4)
        let before = pictureFields(of: last, codec: codec)
        let after = pictureFields(of: key, codec: codec)
        if let a = before.pictureID, let b = after.pictureID { offsets.pictureID = (a &+ old.pictureID &+ 1) &- b }
        if let a = before.tl0, let b = after.tl0 { offsets.tl0PicIdx = (a &+ old.tl0PicIdx &+ 1) &- b }
        return offsets
    }

    /// Rewrites a plaintext RTP packet in place; `rtx`: an RTX packet (RFC 4588), whose
    /// payload starts with the original sequence number, rewritten instead of the header's.
    func apply(to p: UnsafeMutableRawBufferPointer, length: Int, rtx: Bool = false) {
        // Never past the buffer, whatever the length says (the payload descriptor is sliced
        // up to it, unchecked in a release build).
        let length = min(max(length, 0), p.count)
        let bytes = UnsafeRawBufferPointer(rebasing: p[0..<length])
        guard let header = RTPPacket.headerLength(of: bytes) else { return }
        WireBytes.put32(p, 4, WireBytes.u32(bytes, 4) &+ timestamp)
        var payload = header
        if rtx {
            guard length >= header + 2 else { return }
            WireBytes.put16(p, header, WireBytes.u16(bytes, header) &+ sequence)
            payload += 2
        } else {
            WireBytes.put16(p, 2, WireBytes.u16(bytes, 2) &+ sequence)
        }
        guard let codec, length > payload else { return }
        let descriptor = UnsafeMutableRawBufferPointer(rebasing: p[payload..<length])
        switch codec {
        case .vp8: rewriteVP8(descriptor)
        case .vp9: rewriteVP9(descriptor)
        default: break
        }
    }

    /// RFC 7741 §4.2: X; then I (picture ID), L (TL0PICIDX) in the extension byte.
    private func rewriteVP8(_ d: UnsafeMutableRawBufferPointer) {
        guard d.count >= 2, d[0] & 0x80 != 0 else { return }
        let ext = d[1]
        var at = 2
        if ext & 0x80 != 0 { rewritePictureID(d, at: &at) }
        if ext & 0x40 != 0, at < d.count { d[at] = d[at] &+ tl0PicIdx }
    }

    /// RFC 9628 §4.2: I (picture ID); with L and not F, TL0PICIDX after the layer byte.
    private func rewriteVP9(_ d: UnsafeMutableRawBufferPointer) {
        guard d.count >= 1 else { return }
        let flags = d[0]
        var at = 1
        if flags & 0x80 != 0 { rewritePictureID(d, at: &at) }
        if flags & 0x20 != 0, flags & 0x10 == 0, at + 1 < d.count { d[at + 1] = d[at + 1] &+ tl0PicIdx }
    }

    /// A 7-bit or 15-bit picture ID (`PictureID`), advanced by `pictureID` in its own width.
    private func rewritePictureID(_ d: UnsafeMutableRawBufferPointer, at: inout Int) {
        guard at < d.count else { return }
        if d[at] & 0x80 != 0 {
            guard at + 1 < d.count else {
                at = d.count  // cut short: nothing after it to rewrite (not TL0PICIDX into the ID)
                return
            }
            let id = (UInt16(d[at] & 0x7F) << 8 | UInt16(d[at + 1])) &+ pictureID & 0x7FFF
            d[at] = 0x80 | UInt8(id >> 8 & 0x7F)
            d[at + 1] = UInt8(id & 0xFF)
            at += 2
        } else {
            d[at] = (d[at] &+ UInt8(truncatingIfNeeded: pictureID)) & 0x7F
            at += 1
        }
    }

    /// What a layer's packet says (for the offsets at a move): picture ID and TL0PICIDX of
    /// a VP8 or VP9 payload descriptor, nil where absent.
    static func pictureFields(of packet: UnsafeRawBufferPointer, codec: VideoCodec?) -> (pictureID: UInt16?, tl0: UInt8?) {
        guard let codec, let header = RTPPacket.headerLength(of: packet), packet.count > header + 1 else { return (nil, nil) }
        let d = UnsafeRawBufferPointer(rebasing: packet[header...])
        var at: Int
        var pid: UInt16?
        var tl0: UInt8?
        switch codec {
        case .vp8:
            guard d[0] & 0x80 != 0 else { return (nil, nil) }
            at = 2
            if d[1] & 0x80 != 0 {
                pid = PictureID.read(d, at: &at)
                if pid == nil { return (nil, nil) }  // cut short: no TL0PICIDX after it either
            }
            if d[1] & 0x40 != 0, at < d.count { tl0 = d[at] }
        case .vp9:
            at = 1
            if d[0] & 0x80 != 0 {
                pid = PictureID.read(d, at: &at)
                if pid == nil { return (nil, nil) }
            }
            if d[0] & 0x20 != 0, d[0] & 0x10 == 0, at + 1 < d.count { tl0 = d[at + 1] }
        default:
            return (nil, nil)
        }
        return (pid, tl0)
    }
}
