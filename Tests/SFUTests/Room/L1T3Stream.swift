@testable import SFU

/// A VP8 stream with three temporal layers as libwebrtc sends it (`L1T3`): frames of layers
/// 0, 2, 1, 2 in turn, each with a 15-bit picture ID, TL0PICIDX and TID; the layer-sync bit
/// (Y) on the frames of layers 1 and 2 that reference only the last TL0 frame (the first two
/// after it) unless `sync` says otherwise; a keyframe first. `packetsPerFrame` packets a
/// frame, the marker on the last.
struct L1T3Stream {
    static let pattern: [UInt8] = [0, 2, 1, 2]
    var sequence: UInt16
    var pictureID: UInt16
    var tl0: UInt8 = 0
    var frame = 0
    var timestamp: UInt32 = 1000
    var packetsPerFrame = 2
    var sync: (Int, UInt8) -> Bool = { index, tid in tid > 0 && index % 4 != 3 }
    /// Frames at these indices are keyframes (besides the first).
    var keyframes: Set<Int> = []

    init(sequence: UInt16 = 100, pictureID: UInt16 = 0x7FF0) {
        self.sequence = sequence
        self.pictureID = pictureID
    }

    struct Packet {
        var bytes: [UInt8]
        var sequence: UInt16
        var pictureID: UInt16
        var tl0: UInt8
        var tid: UInt8
        var frame: Int
    }

    static func tid(ofFrame index: Int) -> UInt8 { pattern[index % 4] }

    /// The next frame's packets.
    mutating func nextFrame() throws -> [Packet] {
        let tid = Self.tid(ofFrame: frame)
        if tid == 0, frame > 0 { tl0 &+= 1 }
        let key = frame == 0 || keyframes.contains(frame)
        let y = !key && sync(frame, tid)
        var packets: [Packet] = []
        for i in 0..<packetsPerFrame {
            let descriptor: [UInt8] = [
                0x80 | (i == 0 ? 0x10 : 0), 0xE0, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xFF), tl0,
                tid << 6 | (y ? 0x20 : 0),
            ]
            let payload = descriptor + [key && i == 0 ? 0x10 : 0x11, 0x9D, 0x01, 0x2A, UInt8(frame & 0xFF)]
            let bytes = try buildRTP(
                marker: i == packetsPerFrame - 1, seq: sequence, ts: timestamp, ssrc: 7, payload: payload)
            packets.append(Packet(bytes: bytes, sequence: sequence, pictureID: pictureID, tl0: tl0, tid: tid, frame: frame))
            sequence &+= 1
        }
        pictureID = (pictureID &+ 1) & 0x7FFF
        timestamp &+= 3000
        frame += 1
        return packets
    }

    /// The temporal info of a packet's bytes.
    static func info(_ bytes: [UInt8]) -> TemporalInfo {
        bytes.withUnsafeBytes { TemporalInfo(packet: $0) }
    }
}
