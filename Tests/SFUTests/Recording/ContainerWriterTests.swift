import Testing

@testable import SFU

@Suite("Container writers")
struct ContainerWriterTests {
    let vp8Key: [UInt8] = [0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01, 0xB4, 0x00, 0xAA]

    @Test("IVF: header with FourCC, size from the first VP8 keyframe, 1/90000 time base; 12-byte frame headers")
    func ivf() throws {
        var w = IVFWriter(codec: .vp8)
        var out: [UInt8] = []
        vp8Key.withUnsafeBytes { w.appendFrame($0, rtpTimestamp: UInt32.max - 1499, into: &out) }
        #expect(out.count == 32 + 12 + vp8Key.count)
        ([1, 2, 3] as [UInt8]).withUnsafeBytes { w.appendFrame($0, rtpTimestamp: 1500, into: &out) }  // across the wrap
        ([4] as [UInt8]).withUnsafeBytes { w.appendFrame($0, rtpTimestamp: 1500, into: &out) }  // same timestamp
        let file = try #require(IVFFile(out))
        #expect(file.fourCC == "VP80" && file.width == 320 && file.height == 180)
        #expect(file.timebase.den == 90_000 && file.timebase.num == 1)
        #expect(file.frameCount == 0)  // until finalised
        #expect(file.frames.map(\.pts) == [0, 3000, 3001])
        #expect(file.frames[1].bytes == [1, 2, 3])
        #expect(w.timestampsAdjusted == 1)
        let final = w.finalHeader
        #expect(final.count == 32)
        out.replaceSubrange(0..<32, with: final)
        #expect(IVFFile(out)?.frameCount == 3)
        #expect(IVFWriter(codec: .vp9).finalHeader[8..<12].elementsEqual("VP90".utf8))
        #expect(IVFWriter(codec: .av1).finalHeader[8..<12].elementsEqual("AV01".utf8))
    }

    @Test("Opus packet durations from the TOC byte (RFC 6716 §3.1)")
    func opusDurations() {
        func samples(_ b: [UInt8]) -> Int? { b.withUnsafeBytes { OggOpusWriter.samples($0) } }
        #expect(samples([0xF8, 0]) == 960)  // CELT FB 20 ms, one frame (what browsers send)
        #expect(samples([0x78]) == 960)  // hybrid 20 ms
        #expect(samples([0x18]) == 2880)  // SILK 60 ms
        #expect(samples([0xF9]) == 1920)  // two frames
        #expect(samples([0xF3, 0x06]) == 6 * 480)  // code 3, six CELT 10 ms frames
        #expect(samples([0xE3, 0x06]) == 6 * 120)  // six 2.5 ms frames
        #expect(samples([0xFB, 0x07]) == nil)  // 140 ms: more than 120
        #expect(samples([0xFB, 0x00]) == nil)
        #expect(samples([0xFB]) == nil)
        #expect(samples([]) == nil)
    }

    @Test("Ogg/Opus: OpusHead and OpusTags pages, granules from RTP timestamps with gaps kept, end of stream last")
    func oggOpus() throws {
        var w = OggOpusWriter(serial: 0x1234)
        var out: [UInt8] = []
        let packet: [UInt8] = [0xF8, 0xFF, 0xFE]  // 20 ms
        let base: UInt32 = UInt32.max - 960  // wraps after the first packet
        for ts in [base, base &+ 960, base &+ 1920, base &+ 4800] {  // a 40 ms gap before the last
            try packet.withUnsafeBytes { try w.append($0, rtpTimestamp: ts, into: &out) }
        }
        #expect(throws: OggOpusWriter.Rejection.timestampWentBack) {
            try packet.withUnsafeBytes { try w.append($0, rtpTimestamp: base &+ 960, into: &out) }
        }
        #expect(throws: OggOpusWriter.Rejection.malformed) {
            try [UInt8]().withUnsafeBytes { try w.append($0, rtpTimestamp: base &+ 9600, into: &out) }
        }
        w.finish(into: &out)
        let pages = try #require(OggPage.parse(out))
        #expect(pages.count >= 3)
        #expect(pages[0].headerType == 0x02 && pages[0].granule == 0 && pages[0].packets.count == 1)
        let head = pages[0].packets[0]
        #expect(head.count == 19 && head.starts(with: "OpusHead".utf8))
        #expect(head[9] == 2 && head[10] == 0x38 && head[11] == 0x01)  // stereo, pre-skip 312
        #expect(head[12..<16].elementsEqual([0x80, 0xBB, 0, 0]))  // 48 kHz
        #expect(pages[1].packets.count == 1 && pages[1].packets[0].starts(with: "OpusTags".utf8))
        let audio = pages[2...].flatMap(\.packets)
        #expect(audio == Array(repeating: packet, count: 4))
        #expect(pages.last!.headerType & 0x04 != 0)  // end of stream
        #expect(pages.last!.granule == 312 + 4800 + 960)
        #expect(w.granule == 312 + 4800 + 960 && w.packetCount == 4)
        #expect(Set(pages.map(\.serial)) == [0x1234])
        #expect(pages.map(\.sequence) == Array(0..<UInt32(pages.count)))
    }

    @Test("Ogg/Opus: pages are flushed at least every second of audio")
    func oggFlush() throws {
        var w = OggOpusWriter(serial: 1)
        var out: [UInt8] = []
        let bytes: [UInt8] = [0xF8] + [UInt8](repeating: 0x11, count: 19)
        for i in 0..<120 {  // 2.4 s
            try bytes.withUnsafeBytes { try w.append($0, rtpTimestamp: UInt32(960 * i), into: &out) }
        }
        let pages = try #require(OggPage.parse(out))
        let granules = pages.dropFirst(2).map(\.granule)
        #expect(granules.count >= 2)
        #expect(granules.first! <= 312 + 48_000 + 960)
    }
}
