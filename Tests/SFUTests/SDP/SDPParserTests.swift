import Foundation
import Reactor
import Testing

@testable import SFU

@Suite("SDP parser on real offers")
struct SDPParserTests {
    @Test("every fixture offer parses, CRLF intact", arguments: SDPFixtures.all)
    func fixturesParse(name: String) throws {
        let text = SDPFixtures.text(name)
        #expect(text.contains("\r\n"))
        let d = try SDPParser.parse(text)
        #expect(d.media.count == 2)
        #expect(d.bundleMids == ["0", "1"])
    }

    @Test("Chromium publisher offer: transport, codecs, RTX, extensions, feedback, ssrcs")
    func chromiumOffer() throws {
        let d = try SDPFixtures.offer(SDPFixtures.chromium)
        #expect(d.origin.sessionID == "948092993879839815")
        #expect(d.extmapAllowMixed)
        #expect(d.msidSemantic == " WMS db552604-7ccd-4456-aaeb-e45fbedd97c5")

        let audio = d.media[0]
        #expect(audio.kind == .audio)
        #expect(audio.port == 55486)
        #expect(audio.proto == "UDP/TLS/RTP/SAVPF")
        #expect(audio.formats == ["111", "63", "9", "0", "8", "13", "110", "126"])
        #expect(audio.connection == "IN IP4 127.0.0.1")
        #expect(audio.mid == "0")
        #expect(audio.direction == .sendonly)
        #expect(audio.iceUfrag == "r+Hq")
        #expect(audio.icePassword == "5Woi8jRWNL9CjmR+H98I5jIx")
        #expect(audio.iceOptions == ["trickle"])
        #expect(audio.fingerprints.first?.algorithm == "sha-256")
        #expect(audio.fingerprints.first?.bytes.count == 32)
        #expect(audio.setup == .actpass)
        #expect(audio.rtcpMux && audio.rtcpReducedSize)
        #expect(audio.codecs.count == 8)
        let opus = try #require(audio.codecs.first)
        #expect(opus.payloadType == 111 && opus.name == .opus && opus.channels == 2)
        #expect(opus.parameters == [.init("minptime", "10"), .init("useinbandfec", "1")])
        #expect(opus.feedback == [.transportCC])
        #expect(audio.codec(payloadType: 63)?.parameters == [.init("111/111", nil)])
        #expect(audio.headerExtensionID(SDPExtensionURI.audioLevel) == 1)
        #expect(audio.headerExtensionID(SDPExtensionURI.mid) == 4)
        #expect(
            audio.msids == [
                SDPMediaStreamID(
                    stream: "db552604-7ccd-4456-aaeb-e45fbedd97c5", track: "5a34a089-2ea0-40ba-9a78-03a1d266d2f4")
            ])
        #expect(audio.ssrcs.first?.ssrc == 848_728_492)
        #expect(audio.ssrcs.first?.cname == "KBFcYLpZor2+8RH1")
        #expect(audio.primarySSRCs?.media == 848_728_492)
        #expect(audio.primarySSRCs?.rtx == nil)
        #expect(audio.candidates.count == 2)
        let c = try #require(audio.candidates.first)
        #expect(c.foundation == "425454558" && c.component == 1 && c.transport == "udp")
        #expect(c.priority == 2_122_260_223 && c.address == "127.0.0.1" && c.port == 55486 && c.type == "host")
        #expect(c.extensions.first == .init(name: "generation", value: "0"))
        #expect(c.socketAddress == SocketAddress(ip: "127.0.0.1", port: 55486))
        #expect(audio.candidates[1].extensions.contains(.init(name: "tcptype", value: "active")))

        let video = d.media[1]
        #expect(video.kind == .video && video.port == 9 && video.candidates.isEmpty)
        #expect(video.formats.count == 23)
        #expect(video.codecs.count == 23)
        #expect(video.codecs.first?.name == .vp8)
        #expect(video.rtxCodec(for: 96)?.payloadType == 97)
        #expect(video.rtxCodec(for: 102)?.payloadType == 103)
        #expect(video.codec(payloadType: 45)?.name == .av1)
        #expect(video.codec(payloadType: 96)?.feedback == [.remb, .transportCC, .ccmFIR, .nack, .nackPLI])
        #expect(video.headerExtensions.count == 11)
        #expect(video.headerExtensionID(SDPExtensionURI.videoOrientation) == 13)
        #expect(video.ssrcGroups == [SDPSSRCGroup(semantics: "FID", ssrcs: [1_925_417_939, 314_519_191])])
        #expect(video.primarySSRCs?.media == 1_925_417_939)
        #expect(video.primarySSRCs?.rtx == 314_519_191)
        #expect(video.otherAttributes.contains(SDPAttribute("rtcp-xr", "rcvr-rtt=all")))
    }

    @Test("aiortc offer: session-less transport attributes per m-line, three fingerprints")
    func aiortcOffer() throws {
        let d = try SDPFixtures.offer(SDPFixtures.aiortc)
        let video = d.media[0]
        #expect(video.kind == .video && video.mid == "0" && video.direction == .sendonly)
        #expect(video.codecs.map(\.payloadType) == [97, 98])
        #expect(video.codecs[1].associatedPayloadType == 97)
        #expect(video.fingerprints.map(\.algorithm) == ["sha-256", "sha-384", "sha-512"])
        #expect(video.endOfCandidates)
        #expect(video.rtcp == "9 IN IP4 0.0.0.0")
        #expect(d.iceCredentials(of: video)! == ("BZRa", "WuTGFrcoUSVvUg6mG8Rj2Q"))
        #expect(d.media[1].codecs.first?.name == .opus)
        #expect(d.media[1].codecs.first?.parameters.isEmpty == true)
    }

    @Test("LF-only line endings parse like CRLF")
    func lfOnly() throws {
        let crlf = SDPFixtures.text(SDPFixtures.chromium)
        let lf = crlf.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(try SDPParser.parse(lf) == SDPParser.parse(crlf))
    }

    @Test("the writer re-emits every fixture so that it parses to the same model", arguments: SDPFixtures.all)
    func fixtureRoundTrip(name: String) throws {
        let d = try SDPFixtures.offer(name)
        let again = try SDPParser.parse(SDPWriter.write(d))
        #expect(again == d)
    }

    @Test("H.264 profile-level-id classes")
    func h264Profiles() {
        #expect(H264Profile(profileLevelID: "42e01f") == .constrainedBaseline)
        #expect(H264Profile(profileLevelID: "42001f") == .baseline)
        #expect(H264Profile(profileLevelID: "4d001f") == .main)
        #expect(H264Profile(profileLevelID: "640c1f") == .high)
        #expect(H264Profile(profileLevelID: "f4001f") == .other(0xf4))
        #expect(H264Profile(profileLevelID: "42e0") == nil)
        #expect(H264Profile(profileLevelID: "zzzzzz") == nil)
        #expect(H264Profile.baseline.decodes(.constrainedBaseline))
        #expect(!H264Profile.constrainedBaseline.decodes(.main))
    }
}
