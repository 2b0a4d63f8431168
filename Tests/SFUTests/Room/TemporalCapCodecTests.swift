import Testing

@testable import SFU

/// Which viewers a temporal cap is for: a VP8 or VP9 viewer is capped through the layer
/// request; one whose video has no temporal layers this reads (H.264) is refused with 409;
/// the room listing says which tracks take a cap (what the player page shows its control for).
@Suite("Temporal caps by codec", .serialized)
struct TemporalCapCodecTests {
    @Test("temporal=0 caps a VP8 or VP9 viewer; an H.264 viewer's request is refused as having no temporal layers; the listing says which take a cap")
    func capsByCodec() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        for (i, codec) in [SDPCodec.Name.vp8, .vp9, .h264].enumerated() {
            let room = "caps-\(codec.encodingName.lowercased())"
            let ssrc = 0x0C0C_0001 &+ UInt32(i) * 0x10
            let tracks = [ClientTrack(kind: .video, trackID: "cam\(i)", ssrc: ssrc, rtxSSRC: ssrc &+ 1)]
            let publisher = try server.makeClient(.publisher, room: room) {
                OfferBuilder.publisherOffer($0, tracks: tracks, videoCodecs: [codec])
            }
            #expect(server.connect([publisher]))
            let viewer = try server.makeClient(.viewer, room: room) {
                OfferBuilder.viewerOffer($0, videoCodecs: [.vp8, .vp9, .h264])
            }
            #expect(viewer.video?.codecName == codec)
            // `/api/rooms` tells the player page which tracks take a cap.
            let listed = server.manager.snapshot(now: server.loop.now).first { $0.name == room }?.tracks.first { $0.kind == "video" }
            #expect(listed?.temporalCaps == (codec != .h264), "\(codec)")
            let answer = server.manager.selectLayers(room: room, id: viewer.sessionID, body: "temporal=0", now: server.loop.now)
            if codec == .h264 {
                #expect(answer == .failure(.noTemporalLayers))
            } else {
                #expect(answer == .success("temporal=0"), "\(codec)")
                let track = try #require(server.session(of: viewer)?.videoTrack)
                #expect(track.pinnedTemporal == 0 && track.temporal?.target == 0)
            }
        }
    }
}
