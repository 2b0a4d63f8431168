import Reactor
import Synchronization
import Testing

@testable import SFU

/// Recording inside a real room: what the publisher's connect, media and end do to the files
/// the room hands to the writer (here: kept by the test, which reads their rings).
@Suite("Room recording", .serialized)
struct RoomRecordingTests {
    final class Files: Sendable {
        let list = Mutex<[RecordingFile]>([])
        var all: [RecordingFile] { list.withLock { $0 } }
        func file(_ kind: TrackKind) -> RecordingFile? { all.first { $0.description.kind == kind } }
    }

    static func server(_ files: Files, counters: RecordingCounters = RecordingCounters()) throws -> LoopbackRoomServer {
        var c = RoomManagerConfiguration()
        c.recording = RecordingSettings(counters: counters, wallClockMillis: { 1_796_000_000_123 }) { f in
            files.list.withLock { $0.append(f) }
        }
        return try LoopbackRoomServer(configuration: c)
    }

    static func drain(_ file: RecordingFile) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: file.ring.capacity)
        while let n = buffer.withUnsafeMutableBytes({ file.ring.read(into: $0) }) { out += buffer[0..<n] }
        return out
    }

    @Test("a connecting publisher starts one recording per track, named as the Go server named them, and asks for a keyframe")
    func startsOnConnect() throws {
        let files = Files()
        let server = try Self.server(files)
        defer { server.close() }
        let publisher = try server.publisher(room: "rec")
        try #require(server.connect([publisher]))
        let names = files.all.map(\.description.name).sorted()
        #expect(names == ["rec_cam0_1796000000.ivf", "rec_mic0_1796000000.ogg"])
        #expect(files.all.allSatisfy { $0.description.publication.hasPrefix("rec_1796000000_") })
        #expect(server.manager.counters.pliSent >= 1)
    }

    @Test("inter frames wait for a keyframe (asked for again while none comes); from the keyframe on every frame is written")
    func firstFrameIsAKeyframe() throws {
        let files = Files()
        let server = try Self.server(files)
        defer { server.close() }
        let publisher = try server.publisher(room: "rec")
        try #require(server.connect([publisher]))
        let video = try #require(files.file(.video))
        #expect(server.publish(40, from: publisher))  // 10 inter frames
        let plis = server.manager.counters.pliSent
        server.settle(.milliseconds(1200))
        #expect(Self.drain(video).isEmpty)
        #expect(server.manager.counters.pliSent > plis)
        publisher.sendsKeyframes = true
        #expect(server.publish(4, from: publisher))
        publisher.sendsKeyframes = false
        #expect(server.publish(40, from: publisher))
        server.settle()
        let bytes = Self.drain(video)
        #expect(bytes.starts(with: Array("DKIF".utf8)))
        // The header, then 11 frames (the last one waits for the next frame to start).
        #expect(bytes.count >= 32 + 10 * (12 + 4 * 195))
    }

    @Test("DELETE, closing the room and shutdown each finish the publication's files")
    func finishesOnEveryEnd() throws {
        for end in ["delete", "close", "shutdown"] {
            let files = Files()
            let counters = RecordingCounters()
            let server = try Self.server(files, counters: counters)
            defer { server.close() }
            let publisher = try server.publisher(room: "rec")
            try #require(server.connect([publisher]))
            publisher.sendsKeyframes = true
            #expect(server.publish(8, from: publisher))
            #expect(counters.active.load(ordering: .relaxed) == 2)
            let now = server.loop.now
            switch end {
            case "delete": #expect(server.manager.endSession(room: "rec", id: publisher.sessionID, now: now))
            case "close": #expect(server.manager.closeRoom("rec", now: now))
            default: server.manager.shutdown(now: now)
            }
            #expect(files.all.count == 2 && files.all.allSatisfy { $0.finished != nil }, "\(end)")
            #expect(files.file(.video)?.finished?.frames == 2, "\(end)")
            #expect(counters.active.load(ordering: .relaxed) == 0, "\(end)")
        }
    }

    @Test("a recording whose queue is full is damaged and dropped; the viewer still gets every packet")
    func fullQueueDamagesOnlyTheRecording() throws {
        let files = Files()
        let counters = RecordingCounters()
        var c = RoomManagerConfiguration()
        var settings = RecordingSettings(counters: counters, wallClockMillis: { 0 }) { f in files.list.withLock { $0.append(f) } }
        settings.videoQueueBytes = 4096
        c.recording = settings
        let server = try LoopbackRoomServer(configuration: c)
        defer { server.close() }
        let publisher = try server.publisher(room: "rec")
        let viewer = try server.viewer(room: "rec")
        try #require(server.connect([publisher, viewer]))
        viewer.startRecording()
        publisher.sendsKeyframes = true
        #expect(server.publish(200, from: publisher))  // ~40 KB of frames, nobody drains the ring
        #expect(server.loop.run(until: { viewer.recorder.media.count >= 200 }, timeout: .seconds(10)))
        let video = try #require(files.file(.video))
        #expect(video.damageReason == .queueFull)
        #expect(counters.damaged.load(ordering: .relaxed) == 1)
        #expect(counters.bytesDroppedQueueFull.load(ordering: .relaxed) > 0)
        #expect(viewer.recorder.missing().isEmpty)
    }
}
