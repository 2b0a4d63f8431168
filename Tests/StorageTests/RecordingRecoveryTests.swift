import Glibc
import Reactor
@testable import SFU
import Testing

@testable import Storage

@Suite struct RecordingRecoveryTests {
    /// An IVF file cut in the middle of its fourth frame, whose sidecar still says `recording`
    /// (a kill -9): the next start cuts it after the third frame, writes the frame count, and
    /// lists it as finalised and recovered.
    @Test func anUnfinishedIVFIsCutToItsLastWholeFrameAtStartUp() throws {
        let dir = temporaryDirectory()
        var ivf = IVFWriter(codec: .vp8)
        var bytes: [UInt8] = []
        for i in 0..<4 {
            let frame = [UInt8](repeating: UInt8(i), count: 100)
            frame.withUnsafeBytes { ivf.appendFrame($0, rtpTimestamp: UInt32(i * 3000), into: &bytes) }
        }
        let whole = IVFWriter.headerLength + 3 * (IVFWriter.frameHeaderLength + 100)
        _ = FileSystem.replace(dir + "/room_video_1.ivf", with: Array(bytes[0..<(whole + 40)]))
        let catalog = RecordingCatalog(directory: dir)
        catalog.add(
            RecordingEntry(
                name: "room_video_1.ivf", room: "room", track: "video", kind: "video", codec: "vp8",
                publication: "room_1_abcd", state: .recording, startedAtUnixMillis: 1000))
        let service = try RecordingService(directory: dir, log: { _ in })
        defer { service.stop(timeout: .seconds(1)) }
        #expect(service.recovered.map(\.name) == ["room_video_1.ivf"])
        let entry = try #require(service.catalog.entry(named: "room_video_1.ivf"))
        #expect(entry.state == .finalised && entry.recovered && entry.frames == 3 && entry.bytes == UInt64(whole))
        let file = fileBytes(dir + "/room_video_1.ivf")
        #expect(file.count == whole)
        #expect(file[24..<28].elementsEqual([3, 0, 0, 0]))
    }

    @Test func aMissingFileIsListedAsDamaged() throws {
        let dir = temporaryDirectory()
        let catalog = RecordingCatalog(directory: dir)
        catalog.add(
            RecordingEntry(
                name: "room_audio_1.ogg", room: "room", track: "audio", kind: "audio", codec: "opus",
                publication: "room_1_abcd", state: .recording, startedAtUnixMillis: 1000))
        let service = try RecordingService(directory: dir, log: { _ in })
        defer { service.stop(timeout: .seconds(1)) }
        #expect(service.recovered.isEmpty)
        #expect(service.catalog.entry(named: "room_audio_1.ogg")?.state == .damaged)
    }
}
