import HTTPTypes
import Testing

@testable import HTTP
import SFU

/// Parses a whole string and returns the requests and the final event.
private func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> ([HTTPParsedRequest], HTTPParseEvent) {
    let result = HTTPRequestParser.parseAll(Array(text.utf8), limits: limits)
    return (result.requests, result.last)
}

private func failure(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPParseError? {
    if case .failed(let error) = parse(text, limits: limits).1 { return error }
    return nil
}

private func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
    failure(text, limits: limits)?.status.code
}

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    @Test("a simple GET is parsed with its fields")
    func simpleGet() throws {
        let (requests, last) = parse("GET /healthz?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n")
        #expect(requests.count == 1)
        let r = try #require(requests.first)
        #expect(r.head.method == .get)
        #expect(r.head.path == "/healthz?x=1")
        #expect(r.head.authority == "example.com")
        #expect(r.head.headerFields[.userAgent] == "t")
        #expect(r.keepAlive)
        #expect(r.minorVersion == 1)
        guard case .needMoreData = last else { Issue.record("expected needMoreData"); return }
    }

    @Test("a body is read to exactly Content-Length bytes")
    func bodyByContentLength() throws {
        let (requests, _) = parse("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET")
        #expect(requests.count == 1)
        #expect(requests.first?.body == Array("hello".utf8))
    }

    @Test("pipelined requests in one buffer come out in order")
    func pipelining() {
        let text = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: h\r\n\r\n"
        let (requests, _) = parse(text)
        #expect(requests.map(\.head.path) == ["/1", "/2", "/3"])
        #expect(requests[1].body == Array("ok".utf8))
    }

    @Test("a request fed one byte at a time parses the same")
    func byteAtATime() {
        let text = Array("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /y HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        var paths: [String] = []
        for byte in text {
            parser.append(contentsOf: [byte])
            while case .request(let r) = parser.next() { paths.append(r.head.path ?? "") }
        }
        #expect(paths == ["/x", "/y"])
    }

    @Test("empty lines before the request line are ignored")
    func leadingEmptyLines() {
        let (requests, _) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(requests.count == 1)
    }

    @Test("HTTP/1.0 closes by default and keeps alive on request")
    func http10() {
        #expect(parse("GET / HTTP/1.0\r\n\r\n").0.first?.keepAlive == false)
        #expect(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").0.first?.keepAlive == true)
        #expect(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").0.first?.keepAlive == false)
    }

    // MARK: Smuggling and framing

    @Test("Content-Length together with Transfer-Encoding is a 400")
    func clAndTE() {
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n") == 400)
    }

    @Test("Transfer-Encoding alone is a 501")
    func teAlone() {
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 501)
    }

    @Test("two Content-Length fields are a 400 even when equal, and so is a list")
    func duplicateCL() {
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 4\r\n\r\nabcd") == 400)
    }

    @Test("a malformed Content-Length is a 400")
    func malformedCL() {
        for value in ["", "+4", "-1", "4a", "0x10", "4 4", " "] {
            #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n") == 400, "\(value)")
        }
    }

    @Test("a 1 GB Content-Length is a 413 from the header alone")
    func hugeCL() {
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1073741824\r\n\r\n") == 413)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999999\r\n\r\n") == 413)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n") == 413)
        #expect(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\n\r\n").0.isEmpty)  // waits for the body
    }

    @Test("obs-fold is a 400")
    func obsFold() {
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400)
    }

    @Test("whitespace before the colon is a 400")
    func spaceBeforeColon() {
        #expect(status("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc") == 400)
    }

    @Test("bare LF is a 400 (lines must end in CRLF)")
    func bareLF() {
        #expect(status("GET / HTTP/1.1\nHost: h\n\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: h\n\r\n") == 400)
    }

    @Test("bare CR is a 400")
    func bareCR() {
        #expect(status("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n") == 400)
        #expect(status("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    @Test("NUL and control characters are a 400")
    func nulAndControls() {
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n") == 400)
        #expect(status("GET /\u{1} HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7F}b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{1B}b\r\n\r\n") == 400)
    }

    @Test("header values keep tabs and obs-text, trimmed of surrounding whitespace")
    func valueTrimming() throws {
        let (requests, _) = parse("GET / HTTP/1.1\r\nHost: h\r\nX-A: \t a\tb \t\r\n\r\n")
        #expect(try #require(requests.first).head.headerFields[HTTPField.Name("X-A")!] == "a\tb")
    }

    @Test("a missing or doubled Host in HTTP/1.1 is a 400")
    func host() {
        #expect(status("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n") == 400)
    }

    @Test("request lines with wrong spacing or versions are refused")
    func requestLine() {
        #expect(status("GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1 \r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET /\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / http/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505)
        #expect(status("GET / HTTP/0.9\r\nHost: h\r\n\r\n") == 505)
        #expect(status("G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(parse("GET / HTTP/1.9\r\nHost: h\r\n\r\n").0.first?.minorVersion == 1)
    }

    @Test("target forms: asterisk only for OPTIONS, absolute-form accepted, others refused")
    func targetForms() throws {
        #expect(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").0.first?.head.path == "*")
        #expect(status("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        let absolute = try #require(parse("GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: ignored\r\n\r\n").0.first)
        #expect(absolute.head.authority == "example.com:8080")
        #expect(absolute.head.path == "/a/b?c")
        #expect(status("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
        #expect(status("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n") == 501)
        #expect(status("GET ftp://x/ HTTP/1.1\r\nHost: h\r\n\r\n") == 400)
    }

    // MARK: Limits

    @Test("a request line over the limit is a 414, even before its end arrives")
    func requestLineLimit() {
        let long = String(repeating: "a", count: 9000)
        #expect(status("GET /\(long) HTTP/1.1\r\nHost: h\r\n\r\n") == 414)
        #expect(status("GET /\(long)") == 414)
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 20
        #expect(status("GET /012345 HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == nil)  // exactly 20
        #expect(status("GET /0123456 HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == 414)
    }

    @Test("a header section over the limit is a 431, and so are too many fields")
    func headerLimit() {
        let big = String(repeating: "b", count: 17000)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX: \(big)\r\n\r\n") == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\nX: \(big)") == 431)
        let many = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(status("GET / HTTP/1.1\r\nHost: h\r\n\(many)\r\n") == 431)
        var flood = "GET / HTTP/1.1\r\nHost: h\r\n"
        for i in 0..<2000 { flood += "X-\(i): \(i)\r\n" }
        #expect(status(flood) == 431)
    }

    @Test("Expect: 100-continue is reported once before the body; other expectations are a 417")
    func expectContinue() {
        var parser = HTTPRequestParser()
        parser.append(contentsOf: Array("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        guard case .continueRequested = parser.next() else { Issue.record("no continue"); return }
        guard case .needMoreData = parser.next() else { Issue.record("continue twice"); return }
        parser.append(contentsOf: Array("ok".utf8))
        guard case .request(let r) = parser.next() else { Issue.record("no request"); return }
        #expect(r.body == Array("ok".utf8))
        #expect(status("POST / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n") == 417)
    }

    @Test("after a failure the parser keeps failing and ignores more bytes")
    func staysFailed() {
        var parser = HTTPRequestParser()
        parser.append(contentsOf: Array("GET / HTTP/1.1\nHost: h\n\n".utf8))
        guard case .failed = parser.next() else { Issue.record("expected failure"); return }
        parser.append(contentsOf: Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .failed = parser.next() else { Issue.record("expected failure again"); return }
        #expect(parser.bufferedByteCount == 0)
    }

    // MARK: Property

    @Test("random bytes never crash the parser and buffered memory stays bounded")
    func randomBytes() {
        var rng = SplitMixRandom(seed: 0x5EED_1234)
        let alphabet = Array("GET POST HTTP/1.1\r\n:Host Content-Length 0123456789 /\t\0chunked".utf8)
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 512
        limits.maxRequestLineBytes = 128
        limits.maxBodyBytes = 256
        for round in 0..<3000 {
            var parser = HTTPRequestParser(limits: limits)
            let chunks = Int(rng.next() % 8) + 1
            for _ in 0..<chunks {
                let count = Int(rng.next() % 300)
                let bytes: [UInt8] = (0..<count).map { _ in
                    round % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
                parser.append(contentsOf: bytes)
                loop: while true {
                    switch parser.next() {
                    case .request, .continueRequested: continue
                    case .needMoreData, .failed: break loop
                    }
                }
                #expect(parser.bufferedByteCount <= 128 + 512 + 256 + 300 + 4)
            }
        }
    }

    @Test("valid random requests split at random points parse to the same requests")
    func randomSplits() {
        var rng = SplitMixRandom(seed: 42)
        for _ in 0..<300 {
            var text = ""
            var expected: [String] = []
            for i in 0..<Int(rng.next() % 5 + 1) {
                let bodyLength = Int(rng.next() % 20)
                text += "POST /r\(i) HTTP/1.1\r\nHost: h\r\nContent-Length: \(bodyLength)\r\n\r\n" + String(repeating: "x", count: bodyLength)
                expected.append("/r\(i)")
            }
            let bytes = Array(text.utf8)
            var parser = HTTPRequestParser()
            var got: [String] = []
            var index = 0
            while index < bytes.count {
                let n = min(bytes.count - index, Int(rng.next() % 17) + 1)
                parser.append(contentsOf: bytes[index..<(index + n)])
                index += n
                while case .request(let r) = parser.next() { got.append(r.head.path ?? "") }
            }
            #expect(got == expected)
        }
    }
}

@Suite("HTTP request parser under mutation")
struct HTTPRequestParserMutationTests {
    static let seeds: [String] = [
        "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n",
        "POST /api/whip/publish/r HTTP/1.1\r\nHost: h\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
        "PATCH /api/session/x HTTP/1.1\r\nHost: h\r\nIf-Match: \"1\"\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nOrigin: https://a\r\n\r\n",
    ]

    static func describe(_ event: HTTPParseEvent) -> String {
        switch event {
        case .request(let r): return "request \(r.head.method.rawValue) \(r.head.path ?? "") \(r.body.count) \(r.keepAlive)"
        case .needMoreData: return "more"
        case .continueRequested: return "continue"
        case .failed(let e): return "failed \(e.status.code)"
        }
    }

    /// Every event until the parser needs more data or fails, `.continueRequested` left out.
    static func events(_ chunks: [[UInt8]]) -> [String] {
        var parser = HTTPRequestParser()
        var out: [String] = []
        for chunk in chunks {
            parser.append(contentsOf: chunk)
            loop: while true {
                let event = parser.next()
                switch event {
                case .continueRequested: continue
                case .request: out.append(describe(event))
                case .needMoreData: break loop
                case .failed:
                    out.append(describe(event))
                    return out
                }
            }
        }
        return out
    }

    @Test("mutated requests never crash, and parse the same whole or split at random (no desync)")
    func mutations() {
        var rng = SplitMixRandom(seed: 0xC0FFEE)
        let inserts: [UInt8] = Array("\r\n\0 :\t,;0123456789".utf8) + [0x7F, 0xFF]
        for _ in 0..<20_000 {
            var bytes = Array(Self.seeds[Int(rng.next() % UInt64(Self.seeds.count))].utf8)
            for _ in 0..<Int(rng.next() % 4 + 1) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = inserts[Int(rng.next() % UInt64(inserts.count))]
                case 1: bytes.insert(inserts[Int(rng.next() % UInt64(inserts.count))], at: at)
                case 2: bytes.remove(at: at)
                default: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + Int(rng.next() % 20))], at: at)
                }
            }
            let whole = Self.events([bytes])
            var chunks: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, Int(rng.next() % 7) + 1)
                chunks.append(Array(bytes[i..<(i + n)]))
                i += n
            }
            let split = Self.events(chunks)
            #expect(whole == split, "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    }
}


@Suite("HTTP parser fuzz entry")
struct HTTPParserFuzzingTests {
    @Test("the fuzz entry accepts valid, malformed and empty inputs")
    func entry() {
        for text in ["", "G", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "\0\r\n\n"] {
            Array(text.utf8).withUnsafeBytes { HTTPParserFuzzing.testOneInput($0) }
        }
    }
}
