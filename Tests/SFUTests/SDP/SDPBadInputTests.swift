import Testing

@testable import SFU

@Suite("SDP bad input: every case is a clear SDPError")
struct SDPBadInputTests {
    /// A minimal valid offer the cases below break one field at a time.
    static func offer(
        port: String = "9", formats: String = "96 97", rtpmap: String = "96 VP8/90000",
        extra: [String] = [], rtcpMux: Bool = true, ice: Bool = true, fingerprint: Bool = true,
        setup: String = "actpass"
    ) -> String {
        var lines = [
            "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
            "m=video \(port) UDP/TLS/RTP/SAVPF \(formats)", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly",
        ]
        if ice { lines += ["a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx"] }
        if fingerprint { lines.append("a=fingerprint:sha-256 " + SDPFixtures.serverFingerprint) }
        lines.append("a=setup:\(setup)")
        if rtcpMux { lines.append("a=rtcp-mux") }
        lines += ["a=rtpmap:\(rtpmap)", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96"] + extra
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    func answer(_ text: String) throws(SDPError) -> SDPAnswer {
        try AnswerBuilder.buildAnswer(offerText: text, parameters: SDPFixtures.parameters(), role: .publisher)
    }

    @Test("the minimal offer itself is answered")
    func baseline() throws {
        let a = try answer(Self.offer())
        #expect(a.media.first?.payloadType == 96 && a.media.first?.rtxPayloadType == 97)
    }

    @Test("empty, blank and garbage descriptions")
    func garbage() {
        #expect(throws: SDPError.malformed(line: 1, reason: "empty description; expected v=0")) {
            try SDPParser.parse("")
        }
        #expect(throws: SDPError.malformed(line: 1, reason: "empty description; expected v=0")) {
            try SDPParser.parse("\r\n\r\n")
        }
        #expect(throws: SDPError.malformed(line: 1, reason: "the first line must be v=0")) {
            try SDPParser.parse("hello world")
        }
        #expect(throws: SDPError.malformed(line: 1, reason: "the first line must be v=0")) {
            try SDPParser.parse("v=1\r\n")
        }
        #expect(throws: SDPError.malformed(line: 1, reason: "missing o= line")) { try SDPParser.parse("v=0\r\n") }
        #expect(throws: SDPError.malformed(line: 2, reason: "expected <letter>=<value>")) {
            try SDPParser.parse("v=0\r\nnonsense\r\n")
        }
        #expect(throws: SDPError.malformed(line: 3, reason: "control character in line")) {
            try SDPParser.parse("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=a\u{0}b\r\n")
        }
        #expect(throws: SDPError.malformed(line: 3, reason: "m-line before o= line")) {
            try SDPParser.parse("v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n")
        }
        #expect(
            throws: SDPError.malformed(
                line: 2, reason: "o= needs 6 fields: <username> <sess-id> <sess-version> IN <addrtype> <address>")
        ) {
            try SDPParser.parse("v=0\r\no=-\r\n")
        }
    }

    @Test("10 000 lines, 100 KB, 65 m-lines, 201 formats and 101 candidates are refused as too large")
    func tooLarge() {
        let many = "v=0\r\n" + String(repeating: "a=x\r\n", count: 10_000)
        #expect(throws: SDPError.tooLarge("more than 2000 lines")) { try SDPParser.parse(many) }
        let big = "v=0\r\ns=" + String(repeating: "x", count: 100_000) + "\r\n"
        #expect(throws: SDPError.tooLarge("more than 65536 bytes")) { try SDPParser.parse(big) }
        let longLine = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=" + String(repeating: "x", count: 5000) + "\r\n"
        #expect(throws: SDPError.malformed(line: 3, reason: "line longer than 4096 bytes")) {
            try SDPParser.parse(longLine)
        }
        let mlines =
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n" + String(repeating: "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", count: 65)
        #expect(throws: SDPError.tooLarge("more than 64 m-lines")) { try SDPParser.parse(mlines) }
        let formats = (0..<201).map { _ in "0" }.joined(separator: " ")
        #expect(throws: SDPError.tooLarge("more than 200 formats on the m-line at line 6")) {
            try SDPParser.parse(Self.offer(formats: formats))
        }
        let candidates = (0..<101).map { "a=candidate:1 1 udp 1 10.0.0.1 \($0) typ host" }
        #expect(throws: SDPError.tooLarge("more than 100 candidates in one m-section")) {
            try SDPParser.parse(Self.offer(extra: candidates))
        }
    }

    @Test("absurd numbers: port 99999, payload type 300, clock rate 0, extmap id 0, ssrc 2^32")
    func absurdNumbers() {
        #expect(throws: SDPError.malformed(line: 6, reason: "port 99999 out of range 0-65535")) {
            try SDPParser.parse(Self.offer(port: "99999"))
        }
        #expect(throws: SDPError.malformed(line: 6, reason: "port '-1' is not a number")) {
            try SDPParser.parse(Self.offer(port: "-1"))
        }
        #expect(throws: SDPError.malformed(line: 6, reason: "payload type 300 out of range 0-127")) {
            try SDPParser.parse(Self.offer(formats: "300"))
        }
        #expect(throws: SDPError.malformed(line: 6, reason: "payload type 96 listed twice")) {
            try SDPParser.parse(Self.offer(formats: "96 96"))
        }
        #expect(throws: SDPError.malformed(line: 15, reason: "payload type 300 out of range 0-127")) {
            try SDPParser.parse(Self.offer(rtpmap: "300 VP8/90000"))
        }
        #expect(throws: SDPError.malformed(line: 15, reason: "clock rate 0 out of range 1-4294967295")) {
            try SDPParser.parse(Self.offer(rtpmap: "96 VP8/0"))
        }
        #expect(throws: SDPError.malformed(line: 15, reason: "clock rate 99999999999 out of range 1-4294967295")) {
            try SDPParser.parse(Self.offer(rtpmap: "96 VP8/99999999999"))
        }
        #expect(throws: SDPError.malformed(line: 15, reason: "channels 0 out of range 1-255")) {
            try SDPParser.parse(Self.offer(rtpmap: "96 opus/48000/0"))
        }
        #expect(
            throws: SDPError.malformed(line: 15, reason: "rtpmap must be <pt> <encoding>/<clock rate>[/<channels>]")
        ) { try SDPParser.parse(Self.offer(rtpmap: "96 VP8")) }
        #expect(throws: SDPError.malformed(line: 18, reason: "extmap id 0 out of range 1-255")) {
            try SDPParser.parse(Self.offer(extra: ["a=extmap:0 urn:x"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "extmap id 4096 out of range 1-255")) {
            try SDPParser.parse(Self.offer(extra: ["a=extmap:4096 urn:x"]))
        }
        #expect(throws: SDPError.malformed(line: 19, reason: "extmap id 1 used for two URIs")) {
            try SDPParser.parse(Self.offer(extra: ["a=extmap:1 urn:x", "a=extmap:1 urn:y"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "ssrc 4294967296 out of range 0-4294967295")) {
            try SDPParser.parse(Self.offer(extra: ["a=ssrc:4294967296 cname:x"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "ssrc '99999999999999999999999' is not a number")) {
            try SDPParser.parse(Self.offer(extra: ["a=ssrc-group:FID 99999999999999999999999"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "candidate: component must be 1-256")) {
            try SDPParser.parse(Self.offer(extra: ["a=candidate:1 0 udp 1 10.0.0.1 5 typ host"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "candidate: port must be 0-65535")) {
            try SDPParser.parse(Self.offer(extra: ["a=candidate:1 1 udp 1 10.0.0.1 70000 typ host"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "candidate: priority must be 1-4294967295")) {
            try SDPParser.parse(Self.offer(extra: ["a=candidate:1 1 udp 99999999999 10.0.0.1 5 typ host"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "candidate: fewer than 8 fields")) {
            try SDPParser.parse(Self.offer(extra: ["a=candidate:1 1 udp"]))
        }
    }

    @Test("duplicates that make an offer ambiguous")
    func duplicates() {
        #expect(throws: SDPError.malformed(line: 18, reason: "second rtpmap for payload type 96")) {
            try SDPParser.parse(Self.offer(extra: ["a=rtpmap:96 VP9/90000"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "second a=mid in one m-section")) {
            try SDPParser.parse(Self.offer(extra: ["a=mid:1"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "more than one direction attribute")) {
            try SDPParser.parse(Self.offer(extra: ["a=recvonly"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "mid '0' used by two m-lines")) {
            try SDPParser.parse(Self.offer(extra: ["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:0"]))
        }
        #expect(throws: SDPError.malformed(line: 5, reason: "a=group lists mid '0' twice")) {
            try SDPParser.parse(Self.offer().sdpReplacing("a=group:BUNDLE 0", with: "a=group:BUNDLE 0 0"))
        }
    }

    @Test("bad credentials, fingerprints and setup values are malformed lines")
    func badTransportAttributes() {
        #expect(throws: SDPError.malformed(line: 18, reason: "ice-ufrag must be 1-256 characters of [A-Za-z0-9+/]")) {
            try SDPParser.parse(Self.offer(extra: ["a=ice-ufrag:bad ufrag!"]))
        }
        #expect(throws: SDPError.malformed(line: 18, reason: "fingerprint must be <hash> <hex bytes separated by ':'>"))
        { try SDPParser.parse(Self.offer(extra: ["a=fingerprint:sha-256 ZZ:00"])) }
        #expect(throws: SDPError.malformed(line: 13, reason: "setup must be active, passive, actpass or holdconn")) {
            try SDPParser.parse(Self.offer(setup: "sideways"))
        }
    }

    @Test("missing ICE credentials or fingerprint, no rtcp-mux, DTLS client role: the answerer says why")
    func unanswerable() {
        #expect(throws: SDPError.missing("no a=ice-ufrag/a=ice-pwd for mid 0")) { try answer(Self.offer(ice: false)) }
        #expect(throws: SDPError.missing("no a=fingerprint for mid 0")) { try answer(Self.offer(fingerprint: false)) }
        #expect(
            throws: SDPError.unsupported(
                "m-line 0 (mid 0) has no a=rtcp-mux; the server requires RTP/RTCP multiplexing")
        ) { try answer(Self.offer(rtcpMux: false)) }
        #expect(
            throws: SDPError.unsupported(
                "the offer asks the server to be DTLS client (a=setup:passive); the server is DTLS passive only")
        ) { try answer(Self.offer(setup: "passive")) }
        #expect(throws: SDPError.unsupported("ICE credentials too short (ufrag ≥ 4, pwd ≥ 22 characters, RFC 8839)")) {
            try answer(Self.offer().sdpReplacing("a=ice-pwd:abcdefghijklmnopqrstuvwx", with: "a=ice-pwd:short"))
        }
        #expect(throws: SDPError.unsupported("no fingerprint with a supported hash (sha-256 expected)")) {
            try answer(Self.offer().sdpReplacing("fingerprint:sha-256", with: "fingerprint:md5"))
        }
    }

    @Test("nothing usable: data channel only, PCMU only, H.264 mode 0 only, no m-lines")
    func noUsableMedia() {
        let datachannel =
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
        #expect(throws: SDPError.noUsableMedia("m-line 0 (application): data channels are not supported")) {
            try answer(datachannel)
        }
        let pcmu = Self.offer(formats: "0", rtpmap: "0 PCMU/8000").sdpReplacing("m=video", with: "m=audio")
        #expect(throws: SDPError.noUsableMedia("m-line 0 (audio): no supported audio codec (offered: PCMU)")) {
            try answer(pcmu)
        }
        let h264Mode0 = Self.offer(
            rtpmap: "96 H264/90000", extra: ["a=fmtp:96 packetization-mode=0;profile-level-id=42e01f"])
        #expect(throws: SDPError.noUsableMedia("m-line 0 (video): no supported video codec (offered: H264)")) {
            try answer(h264Mode0)
        }
        #expect(throws: SDPError.noUsableMedia("the offer has no m-lines")) {
            try answer("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
        }
        let plainRTP = Self.offer().sdpReplacing("UDP/TLS/RTP/SAVPF", with: "RTP/AVP")
        #expect(
            throws: SDPError.noUsableMedia(
                "m-line 0 (video): transport RTP/AVP is not supported (UDP/TLS/RTP/SAVPF required)")
        ) { try answer(plainRTP) }
    }

    @Test("a data channel next to media is rejected with port 0 and kept out of the bundle")
    func datachannelBesideMedia() throws {
        let text = Self.offer(extra: [
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:1", "a=sctp-port:5000",
        ])
        .sdpReplacing("a=group:BUNDLE 0", with: "a=group:BUNDLE 1 0")
        let a = try answer(text)
        #expect(a.bundleMids == ["0"])
        #expect(
            a.rejected == [
                RejectedMedia(index: 1, mid: "1", kind: .application, reason: "data channels are not supported")
            ])
        let parsed = try SDPParser.parse(a.sdp)
        #expect(parsed.media[1].port == 0)
        #expect(parsed.media[1].formats == ["webrtc-datachannel"])
        #expect(parsed.media[1].mid == "1")
        #expect(parsed.media[1].candidates.isEmpty && parsed.media[1].iceUfrag == nil)
        #expect(a.sdp.contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"))
    }

    @Test("two usable m-lines without a BUNDLE group are refused; an m-line outside the group is rejected")
    func bundleRequired() throws {
        let second = [
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:1", "a=sendonly", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2",
        ]
        let noGroup = Self.offer(extra: second).sdpReplacing("a=group:BUNDLE 0\r\n", with: "")
        #expect(
            throws: SDPError.unsupported(
                "the offer has 2 usable m-lines but no a=group:BUNDLE; the server needs max-bundle")
        ) { try answer(noGroup) }
        let outside = try answer(Self.offer(extra: second))
        #expect(outside.bundleMids == ["0"])
        #expect(outside.rejected.first?.reason == "not in the offer's BUNDLE group (the server uses one transport)")
    }

    @Test("trailing spaces and tabs after a line are ignored")
    func trailingWhitespace() throws {
        let text = Self.offer().sdpReplacing("a=rtcp-mux\r\n", with: "a=rtcp-mux \t\r\n").sdpReplacing(
            "v=0\r\n", with: "v=0 \r\n")
        let d = try SDPParser.parse(text)
        #expect(d.media[0].rtcpMux)
        #expect(d == (try SDPParser.parse(Self.offer())))
    }

    @Test("unknown attributes and line types are tolerated")
    func tolerant() throws {
        let text = Self.offer(extra: [
            "a=x-google-flag:conference", "a=unknown", "i=info", "k=prompt", "a=rtcp-fb:* nack",
        ])
        .sdpReplacing("s=-", with: "s=-\r\nu=http://example.com\r\nz=0 0\r\nx=whatever")
        let d = try SDPParser.parse(text)
        #expect(d.media[0].otherAttributes.contains(SDPAttribute("x-google-flag", "conference")))
        #expect(d.media[0].wildcardFeedback == [.nack])
        let a = try answer(text)
        #expect(a.media[0].feedback == [.nack])
    }

    @Test("SDPError maps to HTTP statuses and readable messages")
    func errorStatuses() {
        #expect(SDPError.malformed(line: 3, reason: "x").httpStatus == 400)
        #expect(SDPError.tooLarge("x").httpStatus == 413)
        #expect(SDPError.noUsableMedia("x").httpStatus == 422)
        #expect(SDPError.malformed(line: 3, reason: "bad port").description == "malformed SDP at line 3: bad port")
    }
}
