import Testing

@testable import SFU

@Suite("viewer (WHEP) answers")
struct ViewerAnswerTests {
    static let opus = SDPCodec(payloadType: 111, encodingName: "opus", clockRate: 48000, channels: 2)
    static let vp8 = SDPCodec(payloadType: 96, encodingName: "VP8", clockRate: 90000)
    static let h264 = SDPCodec(
        payloadType: 102, encodingName: "H264", clockRate: 90000,
        parameters: [.init("packetization-mode", "1"), .init("profile-level-id", "42e01f")])

    static func tracks(audio: SDPCodec? = opus, video: SDPCodec? = vp8) -> [OutboundTrackSpec] {
        [
            OutboundTrackSpec(
                kind: .video, streamID: "room1", trackID: "room1-video", ssrc: 0x1111_0001, rtxSSRC: 0x1111_0002,
                cname: "livesfu-room1", codec: video),
            OutboundTrackSpec(
                kind: .audio, streamID: "room1", trackID: "room1-audio", ssrc: 0x1111_0003, cname: "livesfu-room1",
                codec: audio),
        ]
    }

    func answer(_ name: String, tracks: [OutboundTrackSpec]) throws -> SDPAnswer {
        try AnswerBuilder.buildAnswer(
            offer: SDPFixtures.offer(name), parameters: SDPFixtures.parameters(), role: .viewer(tracks: tracks))
    }

    @Test("Chromium viewer: room's Opus and VP8 mapped onto its m-lines, sendonly, with msid, ssrc and FID")
    func chromium() throws {
        let a = try answer(SDPFixtures.chromiumWHEP, tracks: Self.tracks())
        let parsed = try SDPParser.parse(a.sdp)
        #expect(parsed == a.session)
        #expect(parsed.iceLite && a.bundleMids == ["0", "1"])
        #expect(a.unassignedTrackIDs.isEmpty)

        let audio = a.media[0]
        #expect(audio.direction == .sendonly && audio.trackID == "room1-audio")
        #expect(audio.payloadType == 111 && audio.localSSRC == 0x1111_0003 && audio.localRTXSSRC == nil)
        #expect(audio.extensions.audioLevel == 1 && audio.extensions.mid == 4)
        let video = a.media[1]
        #expect(video.direction == .sendonly && video.trackID == "room1-video")
        #expect(video.payloadType == 96 && video.rtxPayloadType == 97)
        #expect(video.localSSRC == 0x1111_0001 && video.localRTXSSRC == 0x1111_0002)
        #expect(video.feedback == [.nack, .pli, .fir, .remb])
        #expect(video.extensions.absSendTime == 2 && video.extensions.videoOrientation == 13)

        let m = parsed.media[1]
        #expect(m.direction == .sendonly)
        #expect(m.msids == [SDPMediaStreamID(stream: "room1", track: "room1-video")])
        #expect(m.ssrcGroups == [SDPSSRCGroup(semantics: "FID", ssrcs: [0x1111_0001, 0x1111_0002])])
        #expect(m.ssrcs.map(\.ssrc) == [0x1111_0001, 0x1111_0002])
        #expect(m.ssrcs.allSatisfy { $0.cname == "livesfu-room1" })
        #expect(parsed.media[0].ssrcs.map(\.ssrc) == [0x1111_0003])
        #expect(parsed.media[0].ssrcGroups.isEmpty)
        #expect(a.sdp.contains("a=ssrc:286326785 cname:livesfu-room1\r\n"))
        #expect(a.sdp.contains("a=msid:room1 room1-audio\r\n"))
    }

    @Test("aiortc viewer: audio first, its payload types 96/97/98 and extension ids")
    func aiortc() throws {
        let a = try answer(SDPFixtures.aiortcWHEP, tracks: Self.tracks())
        #expect(try SDPParser.parse(a.sdp) == a.session)
        #expect(a.media.map(\.kind) == [.audio, .video])
        #expect(a.media.map(\.direction) == [.sendonly, .sendonly])
        #expect(a.media[0].payloadType == 96 && a.media[0].trackID == "room1-audio")
        #expect(a.media[0].extensions.audioLevel == 2 && a.media[0].extensions.mid == 1)
        #expect(a.media[1].payloadType == 97 && a.media[1].rtxPayloadType == 98)
        #expect(a.media[1].extensions.absSendTime == 3)
        #expect(a.media[1].remoteSSRC == 679_564_571)
        #expect(a.media[1].feedback == [.nack, .pli, .remb])
    }

    @Test("viewer before publisher: planned SSRCs answered with the viewer's preferred codecs")
    func beforePublisher() throws {
        let a = try answer(SDPFixtures.chromiumWHEP, tracks: Self.tracks(audio: nil, video: nil))
        #expect(a.media.map(\.direction) == [.sendonly, .sendonly])
        #expect(a.media[0].codecName == .opus && a.media[0].payloadType == 111)
        #expect(a.media[1].codecName == .vp8 && a.media[1].payloadType == 96)
        #expect(a.media[1].localSSRC == 0x1111_0001 && a.media[1].localRTXSSRC == 0x1111_0002)
        // The rule the room applies when the publisher arrives:
        #expect(CodecPolicy.isCompatible(source: Self.vp8, sink: a.media[1].codec))
        #expect(!CodecPolicy.isCompatible(source: Self.h264, sink: a.media[1].codec))
    }

    @Test("room publishing H.264: Chromium viewer gets its matching H.264 variant, aiortc's video is inactive")
    func h264Room() throws {
        let chromium = try answer(SDPFixtures.chromiumWHEP, tracks: Self.tracks(video: Self.h264))
        #expect(chromium.media[1].codecName == .h264)
        #expect(chromium.media[1].payloadType == 108 && chromium.media[1].rtxPayloadType == 109)
        #expect(chromium.media[1].direction == .sendonly)

        let aiortc = try answer(SDPFixtures.aiortcWHEP, tracks: Self.tracks(video: Self.h264))
        #expect(aiortc.media[1].direction == .inactive)
        #expect(aiortc.media[1].trackID == nil && aiortc.media[1].localSSRC == nil)
        #expect(aiortc.unassignedTrackIDs == ["room1-video"])
        #expect(aiortc.session.media[1].port == 40000)
        #expect(aiortc.session.media[1].ssrcs.isEmpty)
        #expect(aiortc.bundleMids == ["0", "1"])
    }

    @Test("empty room: m-lines answered inactive, not rejected")
    func emptyRoom() throws {
        let a = try answer(SDPFixtures.chromiumWHEP, tracks: [])
        #expect(a.media.map(\.direction) == [.inactive, .inactive])
        #expect(a.rejected.isEmpty)
        #expect(a.session.media.allSatisfy { $0.direction == .inactive && $0.port == 40000 && $0.msids.isEmpty })
    }

    @Test("a publisher's sendonly offer sent to the play endpoint gets inactive m-lines")
    func sendonlyOfferToPlay() throws {
        let a = try answer(SDPFixtures.chromium, tracks: Self.tracks())
        #expect(a.media.map(\.direction) == [.inactive, .inactive])
        #expect(a.unassignedTrackIDs.count == 2)
    }

    @Test("two video tracks fill two video m-lines in order")
    func twoVideoTracks() throws {
        var offer = try SDPFixtures.offer(SDPFixtures.aiortcWHEP)
        var second = offer.media[1]
        second.mid = "2"
        offer.media.append(second)
        offer.groups = [SDPGroup(semantics: "BUNDLE", mids: ["0", "1", "2"])]
        let tracks =
            Self.tracks() + [
                OutboundTrackSpec(
                    kind: .video, streamID: "room1", trackID: "screen", ssrc: 7, rtxSSRC: 8, cname: "c", codec: Self.vp8
                )
            ]
        let a = try AnswerBuilder.buildAnswer(
            offer: offer, parameters: SDPFixtures.parameters(), role: .viewer(tracks: tracks))
        #expect(a.media.map(\.trackID) == ["room1-audio", "room1-video", "screen"])
        #expect(a.bundleMids == ["0", "1", "2"])
    }
}
