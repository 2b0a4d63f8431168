import Testing

@testable import SFU

@Suite("publisher (WHIP) answers")
struct PublisherAnswerTests {
    func answer(_ name: String, sendTransportCC: Bool = false) throws -> SDPAnswer {
        try AnswerBuilder.buildAnswer(
            offer: SDPFixtures.offer(name), parameters: SDPFixtures.parameters(sendTransportCC: sendTransportCC),
            role: .publisher)
    }

    /// Checks what every accepted answer m-section must carry.
    func checkTransport(_ a: SDPAnswer) throws {
        let parsed = try SDPParser.parse(a.sdp)
        #expect(parsed == a.session)
        #expect(parsed.iceLite)
        #expect(parsed.bundleMids == a.bundleMids)
        #expect(parsed.origin.sessionID == "12345")
        for m in parsed.media where m.port != 0 {
            #expect(m.port == 40000)
            #expect(m.connection == "IN IP4 127.0.0.1")
            #expect(m.iceUfrag == "srvU" && m.icePassword == "serverpassword0123456789")
            #expect(m.fingerprints == [SDPFingerprint(algorithm: "sha-256", value: SDPFixtures.serverFingerprint)])
            #expect(m.setup == .passive)
            #expect(m.rtcpMux)
            #expect(
                m.candidates == [
                    SDPCandidate(foundation: "1", priority: 2_130_706_431, address: "127.0.0.1", port: 40000)
                ])
            #expect(m.candidates.first?.description == "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host")
            #expect(m.endOfCandidates)
        }
        #expect(a.sdp.hasPrefix("v=0\r\no=- 12345 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n"))
    }

    @Test("Chromium: Opus 111 and VP8 96 with RTX 97, recvonly, bundled, no transport-cc")
    func chromium() throws {
        let a = try answer(SDPFixtures.chromium)
        try checkTransport(a)
        #expect(a.bundleMids == ["0", "1"])
        #expect(a.rejected.isEmpty)
        #expect(a.remoteICEUfrag == "r+Hq")
        #expect(a.remoteFingerprints.first?.value.hasPrefix("EE:DA:0D") == true)
        #expect(a.media.count == 2)

        let audio = a.media[0]
        #expect(audio.mid == "0" && audio.kind == .audio && audio.direction == .recvonly)
        #expect(audio.codecName == .opus && audio.payloadType == 111)
        #expect(audio.codec.parameters == [.init("minptime", "10"), .init("useinbandfec", "1")])
        #expect(audio.rtxPayloadType == nil)
        #expect(audio.feedback.isEmpty)
        #expect(audio.extensions.audioLevel == 1 && audio.extensions.absSendTime == 2)
        #expect(audio.extensions.mid == 4 && audio.extensions.transportWideCC == nil)
        #expect(audio.remoteSSRC == 848_728_492)
        #expect(audio.rtcpReducedSize)

        let video = a.media[1]
        #expect(video.mid == "1" && video.direction == .recvonly)
        #expect(video.codecName == .vp8 && video.payloadType == 96 && video.rtxPayloadType == 97)
        #expect(video.feedback == [.nack, .pli, .fir, .remb])
        #expect(video.codec.feedback == [.remb, .ccmFIR, .nack, .nackPLI])
        #expect(video.extensions.absSendTime == 2 && video.extensions.mid == 4)
        #expect(video.extensions.videoOrientation == 13 && video.extensions.transportWideCC == nil)
        #expect(video.extensions.all.count == 3)
        #expect(video.remoteSSRC == 1_925_417_939 && video.remoteRTXSSRC == 314_519_191)

        let m = a.session.media[1]
        #expect(m.formats == ["96", "97"])
        #expect(m.codecs.map(\.rtpmapValue) == ["VP8/90000", "rtx/90000"])
        #expect(m.codecs[1].fmtpValue == "apt=96")
        #expect(m.direction == .recvonly)
        #expect(m.msids.isEmpty && m.ssrcs.isEmpty)
        #expect(m.rtcpReducedSize)
        #expect(a.session.extmapAllowMixed)
        #expect(!a.sdp.contains("transport-cc"))
        #expect(!a.sdp.contains("transport-wide-cc"))
    }

    @Test("transport-cc feedback and extension are negotiated only when the server sends feedback")
    func transportCC() throws {
        let a = try answer(SDPFixtures.chromium, sendTransportCC: true)
        #expect(a.media[0].feedback == [.transportCC])
        #expect(a.media[0].extensions.transportWideCC == 3)
        #expect(a.media[1].feedback == [.nack, .pli, .fir, .remb, .transportCC])
        #expect(a.media[1].extensions.transportWideCC == 3)
        #expect(a.sdp.contains("a=rtcp-fb:96 transport-cc\r\n"))
        #expect(
            a.sdp.contains("a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"))
    }

    @Test("H.264 with packetization-mode=1 and constrained baseline is chosen when VP8/VP9 are not allowed")
    func h264Choice() throws {
        var p = SDPFixtures.parameters()
        p.codecs = CodecPolicy(video: [.h264])
        let a = try AnswerBuilder.buildAnswer(
            offer: SDPFixtures.offer(SDPFixtures.chromium), parameters: p, role: .publisher)
        let video = a.media[1]
        #expect(video.codecName == .h264)
        #expect(video.payloadType == 108)  // 42e01f, packetization-mode=1
        #expect(video.rtxPayloadType == 109)
        #expect(video.codec.fmtpValue == "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
        #expect(a.sdp.contains("a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"))
        #expect(a.sdp.contains("a=fmtp:109 apt=108\r\n"))
    }

    @Test("VP9 profile 0 and AV1 profile 0 are chosen by preference")
    func vp9AndAV1() throws {
        var p = SDPFixtures.parameters()
        p.codecs = CodecPolicy(video: [.vp9])
        let offer = try SDPFixtures.offer(SDPFixtures.chromium)
        var a = try AnswerBuilder.buildAnswer(offer: offer, parameters: p, role: .publisher)
        #expect(a.media[1].payloadType == 98 && a.media[1].rtxPayloadType == 99)
        p.codecs = CodecPolicy(video: [.av1])
        a = try AnswerBuilder.buildAnswer(offer: offer, parameters: p, role: .publisher)
        #expect(a.media[1].payloadType == 45 && a.media[1].rtxPayloadType == 46)
        p.codecs = CodecPolicy(video: [.vp8], rtx: false)
        a = try AnswerBuilder.buildAnswer(offer: offer, parameters: p, role: .publisher)
        #expect(a.media[1].payloadType == 96 && a.media[1].rtxPayloadType == nil)
        #expect(a.session.media[1].formats == ["96"])
    }

    @Test("balanced-bundle Chromium offer: both m-lines accepted onto one transport")
    func balanced() throws {
        let a = try answer(SDPFixtures.chromiumBalanced)
        try checkTransport(a)
        #expect(a.bundleMids == ["0", "1"])
        #expect(a.session.media.map(\.port) == [40000, 40000])
        #expect(a.media.map(\.payloadType) == [111, 96])
        #expect(a.media[1].rtxPayloadType == 97)
        #expect(a.media.map(\.direction) == [.recvonly, .recvonly])
    }

    @Test("aiortc: VP8 97 with RTX 98 and Opus 96, aiortc's extension ids kept")
    func aiortc() throws {
        let a = try answer(SDPFixtures.aiortc)
        try checkTransport(a)
        #expect(a.bundleMids == ["0", "1"])
        let video = a.media[0]
        #expect(video.kind == .video && video.codecName == .vp8)
        #expect(video.payloadType == 97 && video.rtxPayloadType == 98)
        #expect(video.feedback == [.nack, .pli, .remb])
        #expect(video.extensions.mid == 1 && video.extensions.absSendTime == 3)
        #expect(video.remoteSSRC == 1_080_096_039 && video.remoteRTXSSRC == 1_130_877_131)
        let audio = a.media[1]
        #expect(audio.payloadType == 96 && audio.codecName == .opus)
        #expect(audio.extensions.mid == 1 && audio.extensions.audioLevel == 2)
        #expect(audio.remoteSSRC == 3_467_961_426)
        #expect(a.remoteICEUfrag == "BZRa")
        #expect(a.remoteFingerprints.count == 3)
        #expect(!a.session.extmapAllowMixed)
        #expect(a.remoteCandidates.count == 2)
    }

    @Test("a WHEP (recvonly) offer sent to the publish endpoint is refused with a reason")
    func recvonlyOfferToPublish() throws {
        #expect(
            throws: SDPError.noUsableMedia(
                "no m-line sends media to the server (a publisher offer must be sendonly or sendrecv)")
        ) {
            try answer(SDPFixtures.chromiumWHEP)
        }
    }
}

@Suite("answers drop sender-only format parameters")
struct SenderOnlyParameterTests {
    @Test("sprop-stereo, sprop-maxcapturerate and sprop-parameter-sets are not echoed; the rest of the fmtp is")
    func dropsSpropParameters() throws {
        var text = SDPFixtures.text(SDPFixtures.chromium)
        text = text.replacingOccurrences(
            of: "a=fmtp:111 minptime=10;useinbandfec=1",
            with: "a=fmtp:111 minptime=10;useinbandfec=1;sprop-stereo=1;sprop-maxcapturerate=48000")
        #expect(text.contains("sprop-stereo=1"))
        let a = try AnswerBuilder.buildAnswer(
            offer: try SDPParser.parse(text), parameters: SDPFixtures.parameters(sendTransportCC: false), role: .publisher)
        #expect(!a.sdp.contains("sprop"))
        #expect(a.sdp.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"))
        let opus = try #require(try SDPParser.parse(a.sdp).media.first { $0.kind == .audio }?.codecs.first)
        #expect(opus.parameters.map(\.key) == ["minptime", "useinbandfec"])
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = self[...]
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
