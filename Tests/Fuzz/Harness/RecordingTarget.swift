import Reactor
import SFU

/// A track's recording chain (assembler, depacketizer, IVF/Annex B or Ogg writer) over packets
/// cut from the input: byte 0 picks VP8, VP9, H.264, AV1 or Opus; then per packet a length
/// byte, a flags byte (bit 0 marker, bits 1-3 sequence step - 2, bits 4-5 timestamp step,
/// bits 6-7 time step) and the payload. Nothing may trap, whatever the packets.
enum RecordingTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 1 else { return }
        let codecs: [VideoCodec] = [.vp8, .vp9, .h264, .av1]
        let pick = Int(input[0] % 5)
        var video = VideoTrackRecorder(codec: codecs[min(pick, 3)], assembler: .init(maxPackets: 64))
        var audio = AudioTrackRecorder(serial: 1)
        var seq: UInt16 = 65_530
        var ts: UInt32 = 4_294_960_000
        var now = Instant(nanoseconds: 1)
        var o = 1
        while o + 2 <= input.count {
            let length = min(Int(input[o]), input.count - o - 2)
            let flags = input[o + 1]
            let payload = UnsafeRawBufferPointer(rebasing: input[(o + 2)..<(o + 2 + length)])
            o += 2 + length
            seq &+= UInt16(bitPattern: Int16((flags >> 1) & 0x07) - 2)
            ts &+= [0, 960, 3000, 0x8000_0000][Int((flags >> 4) & 0x03)]
            now = now + .milliseconds(UInt64(flags >> 6) * 200)
            if pick == 4 {
                audio.handle(sequenceNumber: seq, timestamp: ts, payload: payload, now: now)
                audio.takeOutput { _ in }
            } else {
                video.handle(sequenceNumber: seq, timestamp: ts, marker: flags & 1 != 0, payload: payload, now: now)
                _ = video.takeKeyframeRequest()
                video.takeOutput { _ in }
            }
        }
        video.advance(now: now + .seconds(2))
        _ = video.finalHeader
        audio.finish(now: now)
    }
}
