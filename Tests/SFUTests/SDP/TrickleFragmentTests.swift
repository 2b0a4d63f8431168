import Testing

@testable import SFU

@Suite("trickle ICE fragments (RFC 8840)")
struct TrickleFragmentTests {
    static let whipExample = """
        a=ice-ufrag:EsAw\r
        a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r
        a=group:BUNDLE 0 1\r
        m=audio 9 RTP/AVP 0\r
        a=mid:0\r
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r
        a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r
        a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r
        a=end-of-candidates\r

        """

    @Test("the RFC 9725 example fragment: credentials, mid, three candidates, end-of-candidates")
    func whipExampleParses() throws {
        let f = try TrickleFragment.parse(Self.whipExample)
        #expect(f.credentials! == ("EsAw", "P2uYro0UCOQ4zxjKXaWCBui1"))
        #expect(f.groups == [SDPGroup(semantics: "BUNDLE", mids: ["0", "1"])])
        #expect(f.sections.count == 1 && f.sections[0].mid == "0")
        #expect(f.candidates.count == 3)
        #expect(f.candidates[1].address == "198.51.100.2" && f.candidates[1].port == 61765)
        #expect(f.candidates[2].transport == "tcp")
        #expect(f.endOfCandidates)
        #expect(try TrickleFragment.parse(f.text) == f)
    }

    @Test("an ICE restart fragment carries only new credentials")
    func restartFragment() throws {
        let f = try TrickleFragment.parse("a=ice-ufrag:ZZZZ\na=ice-pwd:abcdefghijklmnopqrstuv\n")
        #expect(f.credentials! == ("ZZZZ", "abcdefghijklmnopqrstuv"))
        #expect(f.candidates.isEmpty && !f.endOfCandidates)
    }

    @Test("candidates without an m-line are kept in an anonymous section")
    func bareCandidates() throws {
        let f = try TrickleFragment.parse("a=candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host\r\n")
        #expect(f.sections.count == 1 && f.sections[0].mid == nil)
        #expect(f.candidates.first?.port == 5000)
    }

    @Test("a broken candidate in a fragment is a malformed-line error")
    func brokenCandidate() {
        #expect(throws: SDPError.malformed(line: 2, reason: "candidate: port must be 0-65535")) {
            try TrickleFragment.parse("a=mid:0\r\na=candidate:1 1 udp 2130706431 10.0.0.1 99999 typ host\r\n")
        }
        #expect(throws: SDPError.self) { try TrickleFragment.parse("garbage") }
    }

    @Test("the server's ICE restart answer carries new credentials and its candidates per mid")
    func restartAnswer() throws {
        let f = TrickleFragment(
            iceUfrag: "newU", icePassword: "newpassword0123456789012", hostCandidates: [SDPFixtures.serverAddress],
            mids: ["0", "1"])
        let text = f.text
        #expect(text.hasPrefix("a=ice-ufrag:newU\r\na=ice-pwd:newpassword0123456789012\r\na=group:BUNDLE 0 1\r\n"))
        #expect(
            text.contains(
                "a=mid:1\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"))
        let parsed = try TrickleFragment.parse(text)
        #expect(parsed == f)
        #expect(parsed.credentials! == ("newU", "newpassword0123456789012"))
        #expect(parsed.sections.map(\.mid) == ["0", "1"])
    }
}
