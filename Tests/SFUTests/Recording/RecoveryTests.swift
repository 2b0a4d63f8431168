import Foundation
import Reactor
import Testing

@testable import SFU

/// Files cut by a crash: recovery finds the last whole frame or page and finalises them.
@Suite("Recovery of unfinished recordings", .serialized)
struct RecoveryTests {
    func walk(_ r: inout IVFRecovery, _ file: [UInt8]) {
        while let (o, c) = r.nextRead { file[o..<(o + c)].withUnsafeBytes { r.feed($0) } }
    }

    func walk(_ r: inout OggRecovery, _ file: [UInt8]) {
        while let (o, c) = r.nextRead { file[o..<(o + c)].withUnsafeBytes { r.feed($0) } }
    }

    /// A synthetic IVF of `n` frames of 100 bytes, header not finalised.
    func ivf(frames n: Int) -> [UInt8] {
        var w = IVFWriter(codec: .vp8)
        var out: [UInt8] = []
        for i in 0..<n {
            let frame = [UInt8](repeating: UInt8(i), count: 100)
            frame.withUnsafeBytes { w.appendFrame($0, rtpTimestamp: UInt32(i * 3000), into: &out) }
        }
        return out
    }

    @Test("IVF: the walk stops at the frame the crash cut, and the header gets the count of whole ones")
    func ivfCut() throws {
        let file = ivf(frames: 5)
        for (cut, frames) in [(file.count, 5), (file.count - 1, 4), (32 + 112 * 2 + 5, 2), (32, 0)] {
            var r = IVFRecovery(fileLength: cut)
            walk(&r, Array(file.prefix(cut)))
            #expect(r.frameCount == UInt32(frames) && r.validLength == 32 + 112 * frames)
            let header = try #require(r.finalHeader)
            #expect(IVFFile(header + file[32..<r.validLength])?.frameCount == UInt32(frames))
        }
        var notIVF = IVFRecovery(fileLength: 40)
        walk(&notIVF, [UInt8](repeating: 7, count: 40))
        #expect(notIVF.finalHeader == nil && notIVF.validLength == 0)
        var tiny = IVFRecovery(fileLength: 10)
        #expect(tiny.nextRead == nil && tiny.finalHeader == nil)
        tiny.feed(UnsafeRawBufferPointer(start: nil, count: 0))
        // A frame size that lies (larger than the file) ends the walk there.
        var lying = file
        lying[32 + 112] = 0xFF
        lying[32 + 112 + 3] = 0x7F
        var r = IVFRecovery(fileLength: lying.count)
        walk(&r, lying)
        #expect(r.frameCount == 1)
    }

    /// A small Ogg/Opus stream of `n` 20 ms packets.
    func ogg(packets n: Int) -> [UInt8] {
        var w = OggOpusWriter(serial: 9)
        var out: [UInt8] = []
        for i in 0..<n {
            let p: [UInt8] = [0xF8] + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 120)
            try? p.withUnsafeBytes { try w.append($0, rtpTimestamp: UInt32(960 * i), into: &out) }
        }
        return out  // not finished: no end-of-stream page
    }

    @Test("Ogg: the last whole page gets the end-of-stream flag with a valid CRC; a cut page is dropped")
    func oggCut() throws {
        let file = ogg(packets: 200)
        let pages = try #require(OggPage.parse(file))
        #expect(pages.count > 4 && pages.allSatisfy { $0.headerType & 0x04 == 0 })
        let cut = file.count - 10
        var r = OggRecovery(fileLength: cut)
        walk(&r, Array(file.prefix(cut)))
        let last = try #require(r.lastPage)
        let page = try #require(r.finalPage)
        #expect(r.validLength == last.offset + last.count && r.validLength < cut)
        var fixed = Array(file.prefix(r.validLength))
        fixed.replaceSubrange(last.offset..<(last.offset + last.count), with: page)
        let fixedPages = try #require(OggPage.parse(fixed))
        #expect(fixedPages.count == pages.count - 1 && fixedPages.last!.headerType & 0x04 != 0)
        // The recomputed CRC is right: a second walk accepts the page as it is.
        var again = OggRecovery(fileLength: fixed.count)
        walk(&again, fixed)
        #expect(again.finalPage == page && again.validLength == fixed.count)
        // A last page with a wrong CRC is dropped.
        var corrupt = fixed
        corrupt[corrupt.count - 1] ^= 0xFF
        var bad = OggRecovery(fileLength: corrupt.count)
        walk(&bad, corrupt)
        #expect(bad.finalPage == nil && bad.validLength == last.offset)
        // Garbage after the pages (zeros of a preallocated block) is cut off.
        var padded = OggRecovery(fileLength: fixed.count + 100)
        walk(&padded, fixed + [UInt8](repeating: 0, count: 100))
        #expect(padded.validLength == fixed.count)
        var empty = OggRecovery(fileLength: 0)
        #expect(empty.nextRead == nil && empty.finalPage == nil)
        empty.feed(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    @Test("Annex B: the file is cut where its last access unit begins")
    func annexB() {
        let sc: [UInt8] = [0, 0, 0, 1]
        let key = sc + [0x67, 0x42] + sc + [0x68, 0xCE] + sc + [0x65, 0x88, 1, 2]
        let delta = sc + [0x41, 0x9A, 3] + sc + [0x41, 0x1A, 4]  // two slices: first_mb 0, then not
        let file = key + delta + key + delta
        func cut(_ bytes: [UInt8], offset: Int = 0) -> Int? {
            bytes.withUnsafeBytes { AnnexBRecovery.validLength(tail: $0, tailOffset: offset) }
        }
        #expect(cut(file) == key.count * 2 + delta.count)  // the last delta frame goes
        #expect(cut(Array(file.dropLast(3))) == key.count * 2 + delta.count)
        #expect(cut(key + delta + Array(key.prefix(12))) == key.count + delta.count)  // cut in the SPS/PPS
        // From a tail that starts mid-unit, offsets are the file's.
        let tail = Array(file[5...])
        #expect(cut(tail, offset: 5) == key.count * 2 + delta.count)
        #expect(cut([1, 2, 3, 0, 0]) == nil)
    }

    @Test("cut real recordings decode without error once recovered (VP8 IVF, Ogg/Opus, H.264)")
    func ffmpegAfterRecovery() throws {
        guard RecordingPlaybackTests.available else {
            return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)")
        }
        let dir = try Tool.tempDirectory()
        try RecordingPlaybackTests.encode(["-c:v", "libvpx", "-b:v", "200k", "-f", "ivf"], to: dir + "/src.ivf")
        let source = try #require(IVFFile(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ivf")))))
        let frames = source.frames.enumerated().map { i, f in
            (ts: UInt32(f.pts) * 3000, payloads: TestPacketizer.vp8(f.bytes, pictureID: i))
        }
        var file = RecordingPlaybackTests.record(.vp8, RecordingPlaybackTests.packets(frames)).file
        file.replaceSubrange(24..<28, with: [0, 0, 0, 0])  // as before finalisation
        let cut = Array(file.prefix(file.count * 6 / 10))
        var r = IVFRecovery(fileLength: cut.count)
        walk(&r, cut)
        let ivfPath = dir + "/recovered.ivf"
        try Data(try #require(r.finalHeader) + cut[32..<r.validLength]).write(to: URL(fileURLWithPath: ivfPath))
        let c = try RecordingPlaybackTests.check(ivfPath)
        #expect(c.errors == "" && c.frames == Int(r.frameCount) && r.frameCount > 10)

        // Real Opus packets (libopus), written as a recording would, then cut.
        let encoded = try Tool.run(
            RecordingPlaybackTests.ffmpeg!,
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-ac", "2", "-c:a",
                "libopus", "-b:a", "48k", "-f", "ogg", dir + "/src.ogg",
            ])
        #expect(encoded.status == 0)
        let sourceBytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ogg")))
        let sourcePages = try #require(OggPage.parse(sourceBytes))
        var writer = OggOpusWriter(serial: 5)
        var ogg: [UInt8] = []
        var ts: UInt32 = 0
        for p in sourcePages.flatMap(\.packets).dropFirst(2) {
            try p.withUnsafeBytes { try writer.append($0, rtpTimestamp: ts, into: &ogg) }
            ts &+= UInt32(p.withUnsafeBytes { OggOpusWriter.samples($0)! })
        }
        let oggCut = Array(ogg.prefix(ogg.count * 6 / 10))
        var o = OggRecovery(fileLength: oggCut.count)
        walk(&o, oggCut)
        let last = try #require(o.lastPage)
        var fixed = Array(oggCut.prefix(o.validLength))
        fixed.replaceSubrange(last.offset..<(last.offset + last.count), with: try #require(o.finalPage))
        let oggPath = dir + "/recovered.ogg"
        try Data(fixed).write(to: URL(fileURLWithPath: oggPath))
        let errors = try Tool.run(
            RecordingPlaybackTests.ffmpeg!, ["-v", "error", "-i", oggPath, "-f", "null", "-"]
        ).stderr
        #expect(errors == "")

        // H.264 Annex B, cut in the middle of a frame.
        try RecordingPlaybackTests.encode(
            ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-f", "h264"],
            to: dir + "/src.h264")
        let units = TestPacketizer.accessUnits(
            TestPacketizer.nalUnits(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.h264")))))
        let h264Frames = units.enumerated().map { i, u in (ts: UInt32(i * 3000), payloads: TestPacketizer.h264(u)) }
        let h264 = RecordingPlaybackTests.record(.h264, RecordingPlaybackTests.packets(h264Frames)).file
        let h264Cut = Array(h264.prefix(h264.count * 6 / 10))
        let length = try #require(h264Cut.withUnsafeBytes { AnnexBRecovery.validLength(tail: $0, tailOffset: 0) })
        let h264Path = dir + "/recovered.h264"
        try Data(h264Cut.prefix(length)).write(to: URL(fileURLWithPath: h264Path))
        let h = try RecordingPlaybackTests.check(h264Path)
        let whole = TestPacketizer.accessUnits(TestPacketizer.nalUnits(Array(h264Cut.prefix(length)))).count
        #expect(h.errors == "" && h.frames == whole && whole > 10)
    }
}
