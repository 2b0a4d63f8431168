import Foundation
import Reactor
import Testing

@testable import SFU

/// Files made by the recording pipeline (packets → FrameAssembler → depacketizer → writer)
/// from real encoder output, checked by Debian's ffmpeg/ffprobe: they must decode with no
/// error output and hold the expected frames. Skipped, with a message, without ffmpeg.
@Suite("Recorded files play in ffmpeg", .serialized)
struct RecordingPlaybackTests {
    static let ffmpeg = Tool.find("ffmpeg")
    static let ffprobe = Tool.find("ffprobe")
    static var available: Bool { ffmpeg != nil && ffprobe != nil }

    /// One RTP packet of the test stream.
    struct Packet {
        var seq: UInt16
        var ts: UInt32
        var marker: Bool
        var payload: [UInt8]
    }

    /// Frames (payload lists) to packets: consecutive sequence numbers from near the wrap,
    /// marker on each frame's last packet.
    static func packets(_ frames: [(ts: UInt32, payloads: [[UInt8]])], audio: Bool = false) -> [Packet] {
        var seq: UInt16 = 65_500
        var out: [Packet] = []
        for f in frames {
            for (i, p) in f.payloads.enumerated() {
                out.append(Packet(seq: seq, ts: f.ts, marker: audio || i == f.payloads.count - 1, payload: p))
                seq &+= 1
            }
        }
        return out
    }

    /// Light network damage: neighbours swapped, some packets sent twice, `lose` dropped.
    static func damage(_ p: [Packet], lose: Set<Int> = []) -> [Packet] {
        var out: [Packet] = []
        var rng = TestRNG(state: 0x5EED)
        for (i, packet) in p.enumerated() where !lose.contains(i) {
            out.append(packet)
            if rng.next() % 17 == 0 { out.append(packet) }
            if out.count >= 2, rng.next() % 5 == 0 { out.swapAt(out.count - 1, out.count - 2) }
        }
        return out
    }

    /// Records packets with a VideoTrackRecorder as the server will; returns the file's bytes
    /// (IVF finalised) and the number of keyframe requests.
    static func record(_ codec: VideoCodec, _ packets: [Packet]) -> (file: [UInt8], keyframeRequests: Int) {
        var recorder = VideoTrackRecorder(codec: codec)
        var file: [UInt8] = []
        var requests = 0
        var now = Instant(nanoseconds: 1_000_000_000)
        for p in packets {
            now = now + .milliseconds(2)
            p.payload.withUnsafeBytes {
                recorder.handle(sequenceNumber: p.seq, timestamp: p.ts, marker: p.marker, payload: $0, now: now)
            }
            if recorder.takeKeyframeRequest() { requests += 1 }
            recorder.takeOutput { file += $0 }
        }
        recorder.advance(now: now + .seconds(1))
        if recorder.takeKeyframeRequest() { requests += 1 }
        recorder.takeOutput { file += $0 }
        if let header = recorder.finalHeader { file.replaceSubrange(0..<header.count, with: header) }
        return (file, requests)
    }

    /// Decodes `path` fully; returns ffmpeg's error output (empty when clean) and the number
    /// of video frames ffprobe counts.
    static func check(_ path: String) throws -> (errors: String, frames: Int?, width: Int?) {
        let errors = try Tool.run(ffmpeg!, ["-v", "error", "-i", path, "-f", "null", "-"]).stderr
        let probe = try Tool.run(
            ffprobe!,
            [
                "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                "stream=nb_read_frames,width", "-of", "default=noprint_wrappers=1", path,
            ]
        ).stdout
        func field(_ name: String) -> Int? {
            probe.split(separator: "\n").first { $0.hasPrefix(name + "=") }.flatMap { Int($0.dropFirst(name.count + 1)) }
        }
        return (errors, field("nb_read_frames"), field("width"))
    }

    /// Encodes 60 frames of ffmpeg's test pattern (160x120, 30 fps, a keyframe every 30).
    static func encode(_ args: [String], to path: String) throws {
        let r = try Tool.run(
            ffmpeg!,
            ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-frames:v", "60", "-g", "30"]
                + args + [path])
        #expect(r.status == 0, "ffmpeg failed: \(r.stderr)")
    }

    @Test("VP8 → IVF: every frame decodes, first is a keyframe; a lost packet skips to the next keyframe")
    func vp8() throws {
        guard Self.available else { return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)") }
        let dir = try Tool.tempDirectory()
        try Self.encode(["-c:v", "libvpx", "-b:v", "200k", "-f", "ivf"], to: dir + "/src.ivf")
        let source = try #require(IVFFile(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ivf")))))
        #expect(source.frames.count == 60)
        let frames = source.frames.enumerated().map { i, f in
            (
                ts: UInt32(truncatingIfNeeded: Int(f.pts) * 3000 &+ 4_294_900_000),
                payloads: TestPacketizer.vp8(f.bytes, pictureID: i)
            )
        }
        let packets = Self.packets(frames)
        func isKey(_ f: [UInt8]) -> Bool { f[0] & 0x01 == 0 }
        // Clean run: all 60 frames.
        let clean = Self.record(.vp8, Self.damage(packets))
        let cleanFile = try #require(IVFFile(clean.file))
        #expect(cleanFile.frames.count == 60 && cleanFile.frameCount == 60 && isKey(cleanFile.frames[0].bytes))
        #expect(cleanFile.frames.map(\.bytes) == source.frames.map(\.bytes))
        try Data(clean.file).write(to: URL(fileURLWithPath: dir + "/clean.ivf"))
        let c = try Self.check(dir + "/clean.ivf")
        #expect(c.errors == "" && c.frames == 60 && c.width == 160)
        // A packet of frame 5 lost for good: frames 5-29 are skipped, 30-59 recorded.
        let lost = packets.firstIndex { $0.ts == frames[5].ts }!
        let damaged = Self.record(.vp8, Self.damage(packets, lose: [lost]))
        let damagedFile = try #require(IVFFile(damaged.file))
        #expect(damagedFile.frames.count == 5 + 30 && isKey(damagedFile.frames[5].bytes))
        #expect(damaged.keyframeRequests == 1)
        try Data(damaged.file).write(to: URL(fileURLWithPath: dir + "/damaged.ivf"))
        let d = try Self.check(dir + "/damaged.ivf")
        #expect(d.errors == "" && d.frames == 35)
    }

    @Test("VP9 → IVF, flexible and non-flexible mode: every frame decodes, size from the uncompressed header")
    func vp9() throws {
        guard Self.available else { return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)") }
        let dir = try Tool.tempDirectory()
        try Self.encode(
            ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-lag-in-frames", "0", "-b:v", "200k", "-f", "ivf"],
            to: dir + "/src.ivf")
        let source = try #require(IVFFile(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ivf")))))
        for flexible in [false, true] {
            let frames = source.frames.enumerated().map { i, f in
                let key = f.bytes[0] & 0x04 == 0  // profile 0: frame_type bit
                return (
                    ts: UInt32(f.pts) * 3000,
                    payloads: TestPacketizer.vp9(
                        f.bytes, pictureID: i, keyframe: key, width: 160, height: 120, flexible: flexible)
                )
            }
            let r = Self.record(.vp9, Self.damage(Self.packets(frames)))
            let file = try #require(IVFFile(r.file))
            #expect(file.frames.map(\.bytes) == source.frames.map(\.bytes), "flexible: \(flexible)")
            #expect(file.width == 160 && file.height == 120)
            try Data(r.file).write(to: URL(fileURLWithPath: dir + "/out.ivf"))
            let c = try Self.check(dir + "/out.ivf")
            #expect(c.errors == "" && c.frames == source.frames.count)
        }
    }

    @Test("AV1 → IVF: OBUs without size fields and fragmented across packets come out decodable")
    func av1() throws {
        guard Self.available else { return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)") }
        let dir = try Tool.tempDirectory()
        try Self.encode(
            ["-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-b:v", "200k", "-f", "ivf"], to: dir + "/src.ivf")
        let source = try #require(IVFFile(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ivf")))))
        let frames = source.frames.map { f in (ts: UInt32(f.pts) * 3000, payloads: TestPacketizer.av1(f.bytes)) }
        #expect(frames.contains { $0.payloads.count > 2 })  // some temporal units are fragmented
        let r = Self.record(.av1, Self.damage(Self.packets(frames)))
        let file = try #require(IVFFile(r.file))
        // libaom's temporal units come back byte for byte (it writes size fields and a TD).
        #expect(file.frames.map(\.bytes) == source.frames.map(\.bytes))
        #expect(file.width == 160 && file.height == 120)  // from the sequence header
        try Data(r.file).write(to: URL(fileURLWithPath: dir + "/out.ivf"))
        let c = try Self.check(dir + "/out.ivf")
        #expect(c.errors == "" && c.frames == source.frames.count && c.width == 160)
    }

    @Test("H.264 → Annex B: STAP-A/FU-A reassembled, SPS/PPS repeated before the second IDR, decodes from any IDR")
    func h264() throws {
        guard Self.available else { return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)") }
        let dir = try Tool.tempDirectory()
        try Self.encode(
            ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-f", "h264"],
            to: dir + "/src.h264")
        let nals = TestPacketizer.nalUnits(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.h264"))))
        var units = TestPacketizer.accessUnits(nals)
        #expect(units.count == 60)
        // x264 repeats SPS/PPS with every IDR; this publisher sends them only with the first.
        #expect(units[30].contains { $0[0] & 0x1F == 5 } && units[30].contains { $0[0] & 0x1F == 7 })
        for i in 1..<units.count { units[i].removeAll { [7, 8].contains($0[0] & 0x1F) } }
        let frames = units.enumerated().map { i, u in (ts: UInt32(i * 3000), payloads: TestPacketizer.h264(u)) }
        let packets = Self.packets(frames)
        // Lose a packet of frame 3: the recording resumes at the IDR of frame 30, which needs
        // the SPS/PPS remembered from frame 0.
        let lost = packets.firstIndex { $0.ts == frames[3].ts }!
        let r = Self.record(.h264, Self.damage(packets, lose: [lost]))
        let written = TestPacketizer.accessUnits(TestPacketizer.nalUnits(r.file))
        func isIDR(_ unit: [[UInt8]]) -> Bool { unit.contains { $0[0] & 0x1F == 5 } }
        func hasParameterSets(_ unit: [[UInt8]]) -> Bool {
            unit.contains { $0[0] & 0x1F == 7 } && unit.contains { $0[0] & 0x1F == 8 }
        }
        #expect(written.count == 3 + 30 && isIDR(written[0]) && isIDR(written[3]))
        #expect(hasParameterSets(written[3]))  // repeated from the first IDR
        // The file, and only its part from the second IDR on: both must decode.
        let secondIDR: [UInt8] = written[3...].flatMap { unit in unit.flatMap { [0, 0, 0, 1] + $0 } }
        let files: [(String, [UInt8], Int)] = [("all", r.file, 33), ("from-second-idr", secondIDR, 30)]
        for (name, bytes, count) in files {
            let path = dir + "/\(name).h264"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let c = try Self.check(path)
            #expect(c.errors == "" && c.frames == count, "\(name)")
        }
    }

    @Test("Opus → Ogg: real libopus packets, duration and packet count as sent, a gap kept as a gap")
    func opus() throws {
        guard Self.available else { return print("skipped: ffmpeg/ffprobe not installed (apt-get install ffmpeg)") }
        let dir = try Tool.tempDirectory()
        let r = try Tool.run(
            Self.ffmpeg!,
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "2", "-c:a",
                "libopus", "-b:a", "48k", "-f", "ogg", dir + "/src.ogg",
            ])
        #expect(r.status == 0)
        let pages = try #require(OggPage.parse(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/src.ogg")))))
        let opus = Array(pages.flatMap(\.packets).dropFirst(2))  // after OpusHead, OpusTags
        #expect(opus.count == 101)  // 2 s of 20 ms packets, plus the encoder's pre-skip
        var ts: UInt32 = 4_294_960_000  // wraps during the recording
        var frames: [(ts: UInt32, payloads: [[UInt8]])] = []
        for p in opus {
            frames.append((ts, [p]))
            ts &+= UInt32(p.withUnsafeBytes { OggOpusWriter.samples($0)! })
        }
        for (name, lose) in [("clean", Set<Int>()), ("gap", Set([40, 41, 42]))] {
            let packets = Self.damage(Self.packets(frames, audio: true), lose: lose)
            var recorder = AudioTrackRecorder(serial: 7)
            var out: [UInt8] = []
            var now = Instant(nanoseconds: 1)
            for p in packets {
                now = now + .milliseconds(20)
                p.payload.withUnsafeBytes { recorder.handle(sequenceNumber: p.seq, timestamp: p.ts, payload: $0, now: now) }
                recorder.takeOutput { out += $0 }
            }
            recorder.finish(now: now)
            recorder.takeOutput { out += $0 }
            #expect(recorder.packetsWritten == UInt64(opus.count - lose.count), "\(name)")
            #expect(recorder.packetsRefused == 0)
            let written = try #require(OggPage.parse(out)).flatMap(\.packets).dropFirst(2)
            #expect(Array(written) == opus.enumerated().filter { !lose.contains($0.offset) }.map(\.element))
            let path = dir + "/\(name).ogg"
            try Data(out).write(to: URL(fileURLWithPath: path))
            let errors = try Tool.run(Self.ffmpeg!, ["-v", "error", "-i", path, "-f", "null", "-"]).stderr
            #expect(errors == "", "\(name)")
            let probe = try Tool.run(
                Self.ffprobe!,
                [
                    "-v", "error", "-count_packets", "-show_entries",
                    "stream=nb_read_packets,channels,codec_name:format=duration", "-of", "default=noprint_wrappers=1",
                    path,
                ]
            ).stdout
            #expect(probe.contains("codec_name=opus") && probe.contains("channels=2"), "\(probe)")
            #expect(probe.contains("nb_read_packets=\(opus.count - lose.count)"), "\(name): \(probe)")
            // The source's duration: the gap does not shorten the file.
            let duration = probe.split(separator: "\n").first { $0.hasPrefix("duration=") }.flatMap { Double($0.dropFirst(9)) }
            #expect(abs((duration ?? 0) - 2.0) < 0.05, "\(name): \(probe)")
        }
    }
}

/// Finding and running the command-line tools the playback tests use.
enum Tool {
    static func find(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func run(_ path: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func tempDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "livesfu-recording-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
