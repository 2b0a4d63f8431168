import Testing

@testable import SFU

/// Offers written in the style of clients that have no captured fixture here (OBS's
/// libdatachannel WHIP output, Firefox): session-level transport attributes, extmap
/// directions, uppercase transports, bare fmtp values. Hand-written, not captures.
@Suite("offers in the style of OBS and Firefox")
struct OtherClientOfferTests {
    static let fingerprint = "sha-256 " + SDPFixtures.serverFingerprint

    static let obsStyle =
        [
            "v=0", "o=rtc 2389012345 0 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "a=group:LS 0 1",
            "a=msid-semantic:WMS *", "a=setup:actpass", "a=ice-ufrag:Ab3d", "a=ice-pwd:0123456789abcdefghijklmn",
            "a=ice-options:ice2,trickle", "a=fingerprint:\(fingerprint)",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly",
            "a=ssrc:1111 cname:obs", "a=ssrc:1111 msid:obs obs-audio", "a=msid:obs obs-audio", "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendonly",
            "a=ssrc:2222 cname:obs", "a=msid:obs obs-video", "a=rtcp-mux", "a=rtpmap:96 H264/90000",
            "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 goog-remb",
            "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1",
        ].joined(separator: "\r\n") + "\r\n"

    static let firefoxStyle =
        [
            "v=0", "o=mozilla...THIS_IS_SDPARTA-99.0 4645127837283921 0 IN IP4 0.0.0.0", "s=-", "t=0 0",
            "a=fingerprint:\(fingerprint)", "a=group:BUNDLE 0 1", "a=ice-options:trickle", "a=msid-semantic:WMS *",
            "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101", "c=IN IP4 0.0.0.0", "a=sendrecv",
            "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level",
            "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1",
            "a=fmtp:101 0-15", "a=ice-pwd:ffffffffffffffffffffffffffffffff", "a=ice-ufrag:4f2a1b3c", "a=mid:0",
            "a=msid:{5c1f0b6e-1111-4c1e-9a55-0b7a3c1e0001} {0d1a4b1c-2222-4d3e-8a1b-1c2d3e4f0002}",
            "a=rtcp-mux", "a=rtpmap:109 opus/48000/2", "a=rtpmap:9 G722/8000/1", "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=setup:actpass",
            "a=ssrc:3333 cname:{7a1b2c3d-3333-4e5f-9a0b-1c2d3e4f0003}",
            "a=candidate:0 1 UDP 2122252543 127.0.0.1 50000 typ host",
            "a=candidate:1 1 UDP 1686052863 198.51.100.7 50000 typ srflx raddr 127.0.0.1 rport 50000",
            "a=end-of-candidates",
            "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127", "c=IN IP4 0.0.0.0", "a=sendrecv",
            "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset",
            "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
            "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1",
            "a=fmtp:127 profile-level-id=42e01f;level-asymmetry-allowed=1", "a=fmtp:120 max-fs=12288;max-fr=60",
            "a=fmtp:124 apt=120", "a=fmtp:121 max-fs=12288;max-fr=60", "a=fmtp:125 apt=121",
            "a=ice-pwd:ffffffffffffffffffffffffffffffff", "a=ice-ufrag:4f2a1b3c", "a=mid:1",
            "a=msid:{5c1f0b6e-1111-4c1e-9a55-0b7a3c1e0001} {9e8d7c6b-4444-4a5b-8c7d-6e5f4a3b0004}",
            "a=rtcp-fb:120 nack", "a=rtcp-fb:120 nack pli", "a=rtcp-fb:120 ccm fir", "a=rtcp-fb:120 goog-remb",
            "a=rtcp-fb:120 transport-cc", "a=rtcp-mux", "a=rtcp-rsize", "a=rtpmap:120 VP8/90000",
            "a=rtpmap:124 rtx/90000",
            "a=rtpmap:121 VP9/90000", "a=rtpmap:125 rtx/90000", "a=rtpmap:126 H264/90000", "a=rtpmap:127 H264/90000",
            "a=setup:actpass", "a=ssrc:4444 cname:{7a1b2c3d-3333-4e5f-9a0b-1c2d3e4f0003}",
            "a=ssrc:5555 cname:{7a1b2c3d-3333-4e5f-9a0b-1c2d3e4f0003}", "a=ssrc-group:FID 4444 5555",
        ].joined(separator: "\r\n") + "\r\n"

    @Test("OBS-style WHIP offer: session-level ICE/DTLS attributes, H.264 only, two groups")
    func obs() throws {
        let offer = try SDPParser.parse(Self.obsStyle)
        #expect(offer.groups.count == 2 && offer.bundleMids == ["0", "1"])
        let a = try AnswerBuilder.buildAnswer(offer: offer, parameters: SDPFixtures.parameters(), role: .publisher)
        #expect(a.remoteICEUfrag == "Ab3d")
        #expect(a.media.map(\.codecName) == [.opus, .h264])
        #expect(a.media[1].payloadType == 96 && a.media[1].rtxPayloadType == nil)
        #expect(a.media[1].feedback == [.nack, .pli, .remb])
        #expect(a.media.map(\.remoteSSRC) == [1111, 2222])
        #expect(
            a.session.media[0].codecs[0].fmtpValue
                == "minptime=10;maxaveragebitrate=96000;stereo=1;useinbandfec=1")  // sprop-stereo is the sender's own
    }

    @Test("Firefox-style offer: sendrecv answered recvonly, extmap directions reversed, VP8 with RTX")
    func firefox() throws {
        let offer = try SDPParser.parse(Self.firefoxStyle)
        #expect(offer.media[0].candidates[0].transport == "udp")
        #expect(offer.media[0].candidates[1].relatedAddress == "127.0.0.1")
        #expect(offer.media[0].codec(payloadType: 101)?.parameters == [.init("0-15", nil)])
        #expect(offer.media[1].headerExtensions.first { $0.id == 6 }?.direction == .recvonly)
        let a = try AnswerBuilder.buildAnswer(
            offer: offer, parameters: SDPFixtures.parameters(sendTransportCC: true), role: .publisher)
        #expect(a.media.map(\.direction) == [.recvonly, .recvonly])
        #expect(a.media[0].payloadType == 109)
        #expect(a.media[1].payloadType == 120 && a.media[1].rtxPayloadType == 124)
        #expect(a.media[1].feedback == [.nack, .pli, .fir, .remb, .transportCC])
        #expect(a.media[1].extensions.transportWideCC == 7 && a.media[1].extensions.playoutDelay == nil)
        #expect(a.media[1].remoteSSRC == 4444 && a.media[1].remoteRTXSSRC == 5555)
        #expect(a.remoteFingerprints.count == 1)

        var p = SDPFixtures.parameters()
        p.headerExtensions.append(SDPExtensionURI.playoutDelay)
        let withDelay = try AnswerBuilder.buildAnswer(offer: offer, parameters: p, role: .publisher)
        #expect(withDelay.session.media[1].headerExtensions.first { $0.id == 6 }?.direction == .sendonly)

        var h264 = SDPFixtures.parameters()
        h264.codecs = CodecPolicy(video: [.h264])
        let h = try AnswerBuilder.buildAnswer(offer: offer, parameters: h264, role: .publisher)
        #expect(h.media[1].payloadType == 126)  // 127 is packetization-mode 0
    }
}
