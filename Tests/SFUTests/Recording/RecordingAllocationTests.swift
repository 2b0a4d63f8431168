import CAllocCounter
import Reactor
import Testing

@testable import SFU

/// The recorders run on the media core for every publisher packet: once their buffers have
/// grown, they must not allocate. Counted with CAllocCounter's malloc wrappers (this thread),
/// in the unoptimised test build, which allocates more readily than release.
@Suite("Recording allocations")
struct RecordingAllocationTests {
    /// Three packets per frame, a keyframe every 50 frames, 900-byte payloads.
    static func payload(_ codec: VideoCodec, frame: Int, packet k: Int) -> [UInt8] {
        let key = frame % 50 == 0
        let data = [UInt8](repeating: 0xAB, count: 900)
        switch codec {
        case .vp8:
            if frame == 0 && k == 0 { return [0x10, 0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0xA0, 0x00, 0x78, 0x00] + data }
            return [k == 0 ? 0x10 : 0x00, key ? 0x50 : 0x51] + data
        case .vp9:
            let b0: UInt8 = (key ? 0 : 0x40) | (k == 0 ? 0x08 : 0) | (k == 2 ? 0x04 : 0)
            return [b0] + data
        case .h264:
            if key && k == 0 { return [0x78, 0, 4, 0x67, 0x42, 0xC0, 0x1F, 0, 2, 0x68, 0xCE] }
            let type: UInt8 = key ? 5 : 1
            let start = k == 0 || (key && k == 1)
            return [0x7C, (start ? 0x80 : 0) | (k == 2 ? 0x40 : 0) | type] + data
        case .av1:
            let h: UInt8 = (k > 0 ? 0x80 : 0) | (k < 2 ? 0x40 : 0) | 0x10 | (key && k == 0 ? 0x08 : 0)
            return k == 0 ? [h, 0x30] + data : [h] + data
        }
    }

    func steadyState(_ codec: VideoCodec) {
        var r = VideoTrackRecorder(codec: codec)
        let packets = Array(frames(count: 400, size: 3, keyEvery: 50).joined())
        let payloads = packets.indices.map { Self.payload(codec, frame: $0 / 3, packet: $0 % 3) }
        var now = Instant(nanoseconds: 1)
        var sink = 0
        var allocations: UInt64 = 0
        for (i, p) in packets.enumerated() {
            now = now + .milliseconds(3)
            let before = lsfu_alloc_count()
            payloads[i].withUnsafeBytes {
                r.handle(sequenceNumber: p.seq, timestamp: p.ts, marker: p.marker, payload: $0, now: now)
            }
            r.takeOutput { sink &+= $0.count }
            _ = r.takeKeyframeRequest()
            if i >= 300 { allocations += lsfu_alloc_count() - before }  // after the buffers grew
        }
        let (written, refused) = (r.framesWritten, r.framesRefused)
        #expect(written == 400 && refused == 0 && sink > 0, "\(codec)")
        #expect(allocations == 0, "\(codec)")
    }

    @Test("VP8, VP9, H.264 (STAP-A, FU-A) and AV1 (fragments) recorders allocate nothing per packet")
    func video() {
        for codec: VideoCodec in [.vp8, .vp9, .h264, .av1] { steadyState(codec) }
    }

    @Test("the Opus recorder allocates nothing per packet")
    func audio() {
        var r = AudioTrackRecorder(serial: 1)
        let payload: [UInt8] = [0xF8] + [UInt8](repeating: 0x5A, count: 150)
        var sink = 0
        var allocations: UInt64 = 0
        for i in 0..<3000 {
            let before = lsfu_alloc_count()
            payload.withUnsafeBytes {
                r.handle(sequenceNumber: UInt16(i), timestamp: UInt32(960 * i), payload: $0, now: Instant(nanoseconds: UInt64(i) * 20_000_000))
            }
            r.takeOutput { sink &+= $0.count }
            if i >= 2000 { allocations += lsfu_alloc_count() - before }
        }
        let written = r.packetsWritten
        #expect(written == 2999 && sink > 0)  // the last one is held for the end-of-stream flag
        #expect(allocations == 0)
    }
}
