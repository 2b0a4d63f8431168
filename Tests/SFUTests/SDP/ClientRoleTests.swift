import Reactor
import Testing

@testable import SFU

@Suite("client role: offers and reading the server's answer")
struct ClientRoleTests {
    static let client = OfferParameters(
        iceUfrag: "cliU", icePassword: "clientpassword012345678", fingerprint: SDPFixtures.serverFingerprint,
        sessionID: 777, cname: "client-cname", streamID: "client-stream")
    static let audio = ClientTrack(kind: .audio, trackID: "mic", ssrc: 1001)
    static let video = ClientTrack(kind: .video, trackID: "cam", ssrc: 2001, rtxSSRC: 2002)

    @Test("publisher offer: sendonly Opus + VP8/RTX, BUNDLE, rtcp-mux, actpass, our ssrcs")
    func publisherOffer() throws {
        let offer = OfferBuilder.publisherOffer(Self.client, tracks: [Self.audio, Self.video])
        let d = try SDPParser.parse(offer.sdp)
        #expect(d == offer.session)
        #expect(d.bundleMids == ["0", "1"])
        #expect(d.media.map(\.direction) == [.sendonly, .sendonly])
        #expect(d.media.allSatisfy { $0.rtcpMux && $0.setup == .actpass && $0.iceUfrag == "cliU" })
        #expect(d.media[0].codecs.map(\.payloadType) == [111])
        #expect(d.media[1].codecs.map(\.payloadType) == [96, 97])
        #expect(d.media[1].codecs[1].associatedPayloadType == 96)
        #expect(d.media[1].headerExtensionID(SDPExtensionURI.mid) == 4)
        #expect(d.media[1].headerExtensionID(SDPExtensionURI.absSendTime) == 2)
        #expect(d.media[1].headerExtensionID(SDPExtensionURI.transportWideCC) == 3)
        #expect(d.media[1].primarySSRCs?.media == 2001 && d.media[1].primarySSRCs?.rtx == 2002)
        #expect(d.media[0].ssrcs.first?.cname == "client-cname")
    }

    @Test("publisher offer → server answer → client reads ICE, DTLS role, payload types, extension ids")
    func publishNegotiation() throws {
        let offer = OfferBuilder.publisherOffer(Self.client, tracks: [Self.audio, Self.video])
        let answer = try AnswerBuilder.buildAnswer(
            offerText: offer.sdp, parameters: SDPFixtures.parameters(), role: .publisher)
        #expect(answer.media.map(\.remoteSSRC) == [1001, 2001])
        #expect(answer.media[1].remoteRTXSSRC == 2002)

        let n = try AnswerReader.read(answer.sdp, offer: offer)
        #expect(n.iceUfrag == "srvU" && n.icePassword == "serverpassword0123456789")
        #expect(n.iceLite)
        #expect(n.serverSetup == .passive)
        #expect(n.fingerprints == [SDPFingerprint(algorithm: "sha-256", value: SDPFixtures.serverFingerprint)])
        #expect(n.candidates.map(\.socketAddress) == [SDPFixtures.serverAddress])
        #expect(n.bundleMids == ["0", "1"])
        #expect(n.media.map(\.direction) == [.sendonly, .sendonly])
        #expect(n.media.map(\.payloadType) == [111, 96])
        #expect(n.media[1].rtxPayloadType == 97)
        #expect(n.media[1].extensions.mid == 4 && n.media[1].extensions.transportWideCC == nil)
        #expect(n.media[1].localSSRC == 2001 && n.media[1].localRTXSSRC == 2002)
        #expect(n.media[1].feedback == [.nack, .pli, .fir, .remb])
    }

    @Test("viewer offer → server answer → client learns the room's SSRCs and codecs")
    func viewerNegotiation() throws {
        let offer = OfferBuilder.viewerOffer(Self.client, videoCodecs: [.h264, .vp8])
        let d = try SDPParser.parse(offer.sdp)
        #expect(d.media.map(\.direction) == [.recvonly, .recvonly])
        #expect(d.media[1].codecs.map(\.payloadType) == [102, 103, 96, 97])
        let answer = try AnswerBuilder.buildAnswer(
            offerText: offer.sdp, parameters: SDPFixtures.parameters(sendTransportCC: true),
            role: .viewer(tracks: ViewerAnswerTests.tracks()))
        let n = try AnswerReader.read(answer.sdp, offer: offer)
        #expect(n.media.map(\.direction) == [.recvonly, .recvonly])
        #expect(n.media[0].remoteSSRC == 0x1111_0003)
        #expect(n.media[1].remoteSSRC == 0x1111_0001 && n.media[1].remoteRTXSSRC == 0x1111_0002)
        #expect(n.media[1].codecName == .vp8 && n.media[1].payloadType == 96)
        #expect(n.media[1].remoteMSID == SDPMediaStreamID(stream: "room1", track: "room1-video"))
        #expect(n.media[1].extensions.transportWideCC == 3)
        #expect(n.media[1].localSSRC == nil)
    }

    @Test("an offer without extra features proposes no RTX, REMB, transport-cc, trickle or extension but MID")
    func minimalOffer() throws {
        var p = Self.client
        p.features = []
        p.candidates = [SocketAddress(ip: "127.0.0.1", port: 50000)!]
        let offer = OfferBuilder.publisherOffer(p, tracks: [Self.video, Self.audio])
        let d = try SDPParser.parse(offer.sdp)
        #expect(d.media.map(\.kind) == [.video, .audio])
        #expect(d.media[0].codecs.map(\.payloadType) == [96])
        #expect(d.media[0].codecs[0].feedback == [.ccmFIR, .nack, .nackPLI])
        #expect(d.media[0].ssrcs.map(\.ssrc) == [2001] && d.media[0].ssrcGroups.isEmpty)
        #expect(d.media.allSatisfy { $0.headerExtensions.map(\.uri) == [SDPExtensionURI.mid] })
        #expect(d.media.allSatisfy { $0.iceOptions.isEmpty && $0.candidates.count == 1 })
        #expect(!offer.sdp.contains("rtx") && !offer.sdp.contains("remb") && !offer.sdp.contains("transport-cc"))

        let viewer = OfferBuilder.viewerOffer(p, kinds: [.video, .audio])
        let answer = try AnswerBuilder.buildAnswer(
            offerText: viewer.sdp, parameters: SDPFixtures.parameters(sendTransportCC: true),
            role: .viewer(tracks: ViewerAnswerTests.tracks()))
        let n = try AnswerReader.read(answer.sdp, offer: viewer)
        #expect(n.media.map(\.kind) == [.video, .audio])
        #expect(n.media[0].rtxPayloadType == nil && n.media[0].extensions.mid == 4)
        #expect(n.media[0].extensions.transportWideCC == nil && n.media[0].feedback == [.nack, .pli, .fir])
    }

    @Test("an answer that changes mids or drops rtcp-mux is refused")
    func badAnswers() throws {
        let offer = OfferBuilder.viewerOffer(Self.client)
        let answer = try AnswerBuilder.buildAnswer(
            offerText: offer.sdp, parameters: SDPFixtures.parameters(), role: .viewer(tracks: []))
        #expect(throws: SDPError.self) {
            try AnswerReader.read(answer.sdp.sdpReplacing("a=mid:1", with: "a=mid:x"), offer: offer)
        }
        #expect(throws: SDPError.unsupported("answer m-line 0 has no a=rtcp-mux")) {
            try AnswerReader.read(answer.sdp.sdpReplacing("a=rtcp-mux\r\n", with: ""), offer: offer)
        }
        var rejectedAll = answer.session
        for i in rejectedAll.media.indices {
            rejectedAll.media[i] = AnswerBuilder.rejectedSection(rejectedAll.media[i])
        }
        #expect(throws: SDPError.noUsableMedia("the server rejected every m-line")) {
            try AnswerReader.read(rejectedAll.text, offer: offer)
        }
    }
}

extension String {
    /// Plain substring replacement (no Foundation needed by the callers' intent).
    func sdpReplacing(_ target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
