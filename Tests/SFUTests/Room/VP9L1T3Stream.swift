@testable import SFU

/// A VP9 stream with three temporal layers as libwebrtc sends it in non-flexible mode (RFC
/// 9628; `L1T3`): frames of layers 0, 2, 1, 2 in turn, each with a 15-bit picture ID, the
/// layer indices (TID, U) and TL0PICIDX; a keyframe first, whose first packet carries the
/// scalability structure (one layer's size, the group of four pictures). The switching-up
/// bit (U) on every frame unless `switchingUp` says otherwise (recent libwebrtc's L1T3 table
/// marks every frame). `packetsPerFrame` packets a frame, the marker on the last.
struct VP9L1T3Stream {
    var sequence: UInt16
    var pictureID: UInt16
    var tl0: UInt8 = 0
    var frame = 0
    var timestamp: UInt32 = 1000
    var packetsPerFrame = 2
    var switchingUp: (Int, UInt8) -> Bool = { _, _ in true }
    /// Frames at these indices are keyframes (besides the first).
    var keyframes: Set<Int> = []

    init(sequence: UInt16 = 100, pictureID: UInt16 = 0x7FF0) {
        self.sequence = sequence
        self.pictureID = pictureID
    }

    /// The next frame's packets.
    mutating func nextFrame() throws -> [L1T3Stream.Packet] {
        let tid = L1T3Stream.tid(ofFrame: frame)
        if tid == 0, frame > 0 { tl0 &+= 1 }
        let key = frame == 0 || keyframes.contains(frame)
        let u = switchingUp(frame, tid)
        var packets: [L1T3Stream.Packet] = []
        for i in 0..<packetsPerFrame {
            let first = i == 0
            let last = i == packetsPerFrame - 1
            // I, P (not on a keyframe), L, B, E, V (a keyframe's first packet).
            var b0: UInt8 = 0xA0
            if !key { b0 |= 0x40 }
            if first { b0 |= 0x08 }
            if last { b0 |= 0x04 }
            if key && first { b0 |= 0x02 }
            var descriptor: [UInt8] = [b0, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xFF), tid << 5 | (u ? 0x10 : 0), tl0]
            if key && first {
                // N_S = 0 (one layer), Y, G; 640x480; four pictures: T0 (P_DIFF 4), T2 (1), T1 (2), T2 (1).
                descriptor += [0x18, 0x02, 0x80, 0x01, 0xE0, 4]
                for (t, diff) in [(UInt8(0), UInt8(4)), (2, 1), (1, 2), (2, 1)] { descriptor += [t << 5 | 0x10 | 0x04, diff] }
            }
            let payload = descriptor + [key && first ? 0x82 : 0x86, 0x49, 0x83, 0x42, UInt8(frame & 0xFF)]
            let bytes = try buildRTP(marker: last, seq: sequence, ts: timestamp, ssrc: 9, payload: payload)
            packets.append(
                L1T3Stream.Packet(bytes: bytes, sequence: sequence, pictureID: pictureID, tl0: tl0, tid: tid, frame: frame))
            sequence &+= 1
        }
        pictureID = (pictureID &+ 1) & 0x7FFF
        timestamp &+= 3000
        frame += 1
        return packets
    }

    /// The temporal info of a packet's bytes.
    static func info(_ bytes: [UInt8]) -> TemporalInfo {
        bytes.withUnsafeBytes { TemporalInfo(packet: $0, codec: .vp9) }
    }
}
