import Glibc
import Reactor
@testable import SFU
import Testing

@testable import Storage

/// A fresh folder under /tmp per test.
func temporaryDirectory() -> String {
    var template = Array("/tmp/livesfu-storage-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    return path
}

func fileBytes(_ path: String) -> [UInt8] { FileSystem.read(path, limit: 1 << 26) ?? [] }

func description(_ name: String, kind: TrackKind = .video, publication: String = "room_1_abcd") -> RecordingFile.Description {
    .init(
        name: name, room: "room", track: "\(kind)", kind: kind, codec: kind == .video ? "vp8" : "opus",
        publication: publication, startedAtUnixMillis: 1_000, clockRate: kind == .video ? 90_000 : 48_000)
}

func waitUntil(_ condition: () -> Bool) {
    for _ in 0..<1000 where !condition() { usleep(5_000) }
}

@Suite(.serialized) struct RecordingWriterTests {
    @Test func aFileIsWrittenInOrderThenCompletedWithItsHeaderAndListedAsFinalised() throws {
        let dir = temporaryDirectory()
        let catalog = RecordingCatalog(directory: dir)
        let writer = RecordingWriter(
            catalog: catalog, counters: RecordingCounters(), events: .init(log: { _ in }, closed: { _ in }))
        try writer.start()
        let file = RecordingFile(description("room_video_1.ivf"), queueBytes: 4096)
        writer.register(file)
        var expected: [UInt8] = []
        for i in 0..<50 {
            let chunk = [UInt8](repeating: UInt8(i), count: 10 + i)
            while !chunk.withUnsafeBytes({ file.ring.write($0) }) { usleep(1000) }
            expected += chunk
        }
        file.finish(.init(finalHeader: [9, 9, 9, 9], frames: 50, framesSkipped: 1, durationNanoseconds: 2_000_000_000))
        waitUntil { catalog.entry(named: "room_video_1.ivf")?.state == .finalised }
        writer.stop(timeout: .seconds(5))
        expected.replaceSubrange(0..<4, with: [9, 9, 9, 9])
        #expect(fileBytes(dir + "/room_video_1.ivf") == expected)
        let entry = try #require(catalog.entry(named: "room_video_1.ivf"))
        #expect(entry.state == .finalised && entry.frames == 50 && entry.framesSkipped == 1)
        #expect(entry.bytes == UInt64(expected.count) && entry.durationMillis == 2000)
        // The sidecar holds the same, and a new catalog reads it back.
        let reread = RecordingCatalog.load(directory: dir, log: { _ in })
        #expect(reread.entries() == catalog.entries())
    }

    @Test func aNameAlreadyTakenGetsASuffixAndNothingIsOverwritten() throws {
        let dir = temporaryDirectory()
        _ = FileSystem.replace(dir + "/room_video_1.ivf", with: [1, 2, 3])
        let catalog = RecordingCatalog(directory: dir)
        let writer = RecordingWriter(
            catalog: catalog, counters: RecordingCounters(), events: .init(log: { _ in }, closed: { _ in }))
        try writer.start()
        let file = RecordingFile(description("room_video_1.ivf"), queueBytes: 256)
        writer.register(file)
        _ = [UInt8](repeating: 4, count: 8).withUnsafeBytes { file.ring.write($0) }
        file.finish(.init(finalHeader: nil, frames: 1, framesSkipped: 0, durationNanoseconds: 0))
        waitUntil { catalog.entry(named: "room_video_1-2.ivf")?.state == .finalised }
        writer.stop(timeout: .seconds(5))
        #expect(fileBytes(dir + "/room_video_1.ivf") == [1, 2, 3])
        #expect(catalog.entry(named: "room_video_1-2.ivf")?.state == .finalised)
        #expect(catalog.entry(named: "room_video_1.ivf") == nil)
    }

    @Test func aFileThatCannotBeCreatedIsDamagedAndItsCoreStops() throws {
        let dir = temporaryDirectory() + "/missing-folder"
        let catalog = RecordingCatalog(directory: dir)
        let counters = RecordingCounters()
        let writer = RecordingWriter(catalog: catalog, counters: counters, events: .init(log: { _ in }, closed: { _ in }))
        try writer.start()
        let file = RecordingFile(description("room_video_1.ivf"), queueBytes: 256)
        writer.register(file)
        waitUntil { file.damageReason != nil }
        _ = [UInt8](repeating: 1, count: 10).withUnsafeBytes { file.ring.write($0) }
        file.finish(.init(finalHeader: nil, frames: 1, framesSkipped: 0, durationNanoseconds: 0))
        writer.stop(timeout: .seconds(5))
        #expect(file.damageReason == .writeError)
        let entry = try #require(catalog.entry(named: "room_video_1.ivf"))
        #expect(entry.state == .damaged && entry.damage?.contains("cannot create") == true)
        #expect(counters.damaged.load(ordering: .relaxed) == 1)
        #expect(counters.bytesDroppedWriteError.load(ordering: .relaxed) == 10)
    }

    @Test func aTrackThatNeverSentAFrameLeavesNoFile() throws {
        let dir = temporaryDirectory()
        let catalog = RecordingCatalog(directory: dir)
        let writer = RecordingWriter(
            catalog: catalog, counters: RecordingCounters(), events: .init(log: { _ in }, closed: { _ in }))
        try writer.start()
        let audio = RecordingFile(description("room_audio_1.ogg", kind: .audio), queueBytes: 256)
        let video = RecordingFile(description("room_video_1.ivf"), queueBytes: 256)
        writer.register(audio)
        writer.register(video)
        _ = [UInt8](repeating: 1, count: 10).withUnsafeBytes { audio.ring.write($0) }
        for f in [audio, video] { f.finish(.init(finalHeader: nil, frames: 0, framesSkipped: 0, durationNanoseconds: 0)) }
        writer.stop(timeout: .seconds(5))
        #expect(catalog.entries().map(\.name) == ["room_audio_1.ogg"])
        #expect(FileSystem.size(dir + "/room_video_1.ivf") == nil)
        let reread = RecordingCatalog.load(directory: dir, log: { _ in })
        #expect(reread.entries().map(\.name) == ["room_audio_1.ogg"])
    }

    @Test func stoppingClosesWhatItsCoreNeverFinishedAsDamaged() throws {
        let dir = temporaryDirectory()
        let catalog = RecordingCatalog(directory: dir)
        let writer = RecordingWriter(
            catalog: catalog, counters: RecordingCounters(), events: .init(log: { _ in }, closed: { _ in }))
        try writer.start()
        writer.register(RecordingFile(description("room_audio_1.ogg", kind: .audio), queueBytes: 256))
        waitUntil { catalog.entry(named: "room_audio_1.ogg") != nil }
        writer.stop(timeout: .milliseconds(50))
        #expect(catalog.entry(named: "room_audio_1.ogg")?.state == .damaged)
    }
}
