import Reactor
import Testing

@testable import SFU

@Suite("Track recorders")
struct TrackRecorderTests {
    @Test("H.264: an IDR that cannot be decoded is refused with a keyframe request; the next keyframe is written as Annex B")
    func h264Refused() {
        var r = VideoTrackRecorder(codec: .h264)
        var now = Instant(nanoseconds: 1)
        var out: [UInt8] = []
        func send(_ seq: UInt16, _ ts: UInt32, _ payload: [UInt8]) {
            now = now + .milliseconds(1)
            payload.withUnsafeBytes { r.handle(sequenceNumber: seq, timestamp: ts, marker: true, payload: $0, now: now) }
            r.takeOutput { out += $0 }
        }
        send(1, 0, [0x78, 0, 2, 0x09, 0xF0, 0, 2, 0x65, 1])  // AUD, IDR; no SPS/PPS ever seen
        let (refused, error, asked, askedAgain) = (r.framesRefused, r.lastError, r.takeKeyframeRequest(), r.takeKeyframeRequest())
        #expect(refused == 1 && error == .missingParameterSets && asked)
        #expect(!askedAgain)  // reported once
        send(2, 3000, [0x41, 2])  // depends on the refused IDR: skipped
        send(3, 6000, [0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE, 0, 2, 0x65, 3])  // SPS, PPS, IDR
        let (written, ext, header, skipped) = (r.framesWritten, r.fileExtension, r.finalHeader, r.assemblerCounters.framesSkipped)
        #expect(written == 1 && ext == "h264" && header == nil)
        #expect(out == [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 3])
        #expect(skipped >= 2)
    }

    @Test("VP8: the IVF header comes with the first keyframe, the final header counts the frames")
    func vp8() throws {
        var r = VideoTrackRecorder(codec: .vp8)
        var out: [UInt8] = []
        let key: [UInt8] = [0x10, 0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0xA0, 0x00, 0x78, 0x00]
        for (i, p) in [key, [0x10, 0x51, 0x00], [0x10, 0x51, 0x01]].enumerated() {
            p.withUnsafeBytes {
                r.handle(
                    sequenceNumber: UInt16(i), timestamp: UInt32(3000 * i), marker: true, payload: $0,
                    now: Instant(nanoseconds: UInt64(i)))
            }
        }
        r.takeOutput { out += $0 }
        let asked = r.takeKeyframeRequest()
        #expect(!asked)
        let finalHeader = r.finalHeader
        let header = try #require(finalHeader)
        out.replaceSubrange(0..<32, with: header)
        let file = try #require(IVFFile(out))
        let ext = r.fileExtension
        #expect(file.frameCount == 3 && file.width == 160 && file.height == 120 && ext == "ivf")
        #expect(file.frames.map(\.pts) == [0, 3000, 6000])
    }

    @Test("Opus: reordered packets are written in order, a malformed one is counted, the stream ends with EOS")
    func opus() throws {
        var r = AudioTrackRecorder(serial: 3)
        var out: [UInt8] = []
        let order: [UInt16] = [0, 2, 1, 3]
        for seq in order {
            let payload: [UInt8] = seq == 3 ? [] : [0xF8, UInt8(seq)]
            payload.withUnsafeBytes {
                r.handle(sequenceNumber: seq, timestamp: UInt32(seq) * 960, payload: $0, now: Instant(nanoseconds: UInt64(seq)))
            }
        }
        r.finish(now: Instant(nanoseconds: 10))
        r.takeOutput { out += $0 }
        let pages = try #require(OggPage.parse(out))
        #expect(pages.flatMap(\.packets).dropFirst(2).map { $0[1] } == [0, 1, 2])
        let (written, refused) = (r.packetsWritten, r.packetsRefused)
        #expect(written == 3 && refused == 1)
        #expect(pages.last!.headerType & 0x04 != 0 && pages.last!.granule == 312 + 3 * 960)
    }
}
