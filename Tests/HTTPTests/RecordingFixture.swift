import Foundation
import Glibc
import Storage

/// A `RECORD_DIR` in a temporary folder with a catalog of a few recordings whose files hold
/// known bytes: `alpha` and `beta` are rooms with ROOM_TOKENS entries in the tests, `open` is not.
final class RecordingFixture {
    let directory: String
    let catalog: RecordingCatalog

    static let alpha = "alpha_cam_1700000000.ivf"
    static let openAudio = "open_mic_1700000100.ogg"
    static let openVideo = "open_cam_1700000200.h264"
    static let beta = "beta_cam_1700000300.ivf"

    init(sizes: [String: Int] = [:]) throws {
        directory = NSTemporaryDirectory() + "lsfu-rec-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        catalog = RecordingCatalog(directory: directory)
        func add(_ name: String, room: String, kind: String, codec: String, state: RecordingState, start: Int64,
                 change: (inout RecordingEntry) -> Void = { _ in }) throws {
            let size = sizes[name] ?? 1000
            try Data(Self.content(of: name, size: size)).write(to: URL(fileURLWithPath: directory + "/" + name))
            var e = RecordingEntry(
                name: name, room: room, track: name.split(separator: "_")[1].description, kind: kind, codec: codec,
                publication: "\(room)_\(start / 1000)_pub", state: state, startedAtUnixMillis: start)
            e.bytes = UInt64(size)
            e.frames = 300
            e.framesSkipped = 2
            e.durationMillis = 10_040
            change(&e)
            catalog.add(e)
        }
        try add(Self.alpha, room: "alpha", kind: "video", codec: "vp8", state: .finalised, start: 1_700_000_000_000)
        try add(Self.openAudio, room: "open", kind: "audio", codec: "opus", state: .finalised, start: 1_700_000_100_000) {
            $0.firstFrameUnixMicros = 1_700_000_100_250_000
        }
        try add(Self.openVideo, room: "open", kind: "video", codec: "h264", state: .uploaded, start: 1_700_000_200_000) {
            $0.objectKey = "rec/open_cam_1700000200.h264"
            $0.recovered = true
        }
        try add(Self.beta, room: "beta", kind: "video", codec: "vp9", state: .damaged, start: 1_700_000_300_000) {
            $0.damage = "queue_full"
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The bytes a fixture file holds: a pattern that differs at every offset within 251 bytes
    /// and between files.
    static func content(of name: String, size: Int) -> [UInt8] {
        let seed = name.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff }
        return (0..<size).map { UInt8(truncatingIfNeeded: ($0 % 251) &+ seed &+ $0 / 251) }
    }

    func content(of name: String) -> [UInt8] {
        Self.content(of: name, size: Int(catalog.entry(named: name)?.bytes ?? 0))
    }
}
