import Testing

@testable import HTTP
@testable import SFU

/// `/api/rooms` with temporal layers: a capped viewer's cap, and a VP8 track's bitrates by
/// temporal layer; nothing added for viewers and tracks without.
@Suite("Room listing JSON: temporal layers")
struct TemporalListingJSONTests {
    @Test("a capped viewer shows its cap, target, pinning and held packets; a track with temporal layers its cumulative bitrates; others are as they were")
    func temporalFields() {
        var room = RoomSnapshot(
            name: "t", core: 0, publisher: nil,
            tracks: [
                RoomSnapshot.Track(
                    kind: "video", codec: "VP8", ssrc: 1, bitrate: 1_000_000, packetsIn: 0, bytesIn: 0, packetsOut: 0,
                    bytesOut: 0, keyframes: 0, keyframeRequests: 0)
            ],
            viewers: 2, connectedViewers: 2, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0)
        room.tracks[0].temporalBitrates = [400_000, 600_000, 1_000_000]
        room.tracks[0].temporalHeld = 77
        var capped = RoomSnapshot.Viewer(
            state: "connected", packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0, nacksAnswered: 0,
            rtxBytes: 0, plis: 0)
        capped.temporalCap = 0
        capped.temporalTarget = 0
        capped.temporalPinned = true
        capped.temporalHeld = 77
        let plain = RoomSnapshot.Viewer(
            state: "connected", packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0, nacksAnswered: 0,
            rtxBytes: 0, plis: 0)
        room.viewerDetails = [capped, plain]
        let text = RoomListingJSON.text(rooms: [room])
        #expect(text.contains(#""temporal_bitrates_bps":[400000,600000,1000000],"temporal_held":77"#), "\(text)")
        #expect(text.contains(#""temporal_cap":0,"temporal_target":0,"temporal_pinned":true,"temporal_held":77}"#), "\(text)")
        #expect(text.ranges(of: "temporal_cap").count == 1, "only the capped viewer")
    }

    @Test("a track whose viewers may be capped at a temporal layer says so (temporal_caps), whatever its publisher sends; others do not")
    func temporalCapsFlag() {
        func track(_ codec: String, caps: Bool) -> RoomSnapshot.Track {
            var t = RoomSnapshot.Track(
                kind: "video", codec: codec, ssrc: 1, bitrate: 0, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0,
                keyframes: 0, keyframeRequests: 0)
            t.temporalCaps = caps
            return t
        }
        let room = RoomSnapshot(
            name: "t", core: 0, publisher: nil, tracks: [track("VP9", caps: true), track("H264", caps: false)],
            viewers: 0, connectedViewers: 0, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0)
        let text = RoomListingJSON.text(rooms: [room])
        #expect(text.contains(#""codec":"VP9","#), "\(text)")
        #expect(text.ranges(of: #""temporal_caps":true"#).count == 1, "\(text)")
        #expect(text.ranges(of: "temporal_caps").count == 1, "not on the H.264 track")
    }
}
