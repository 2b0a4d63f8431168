import Foundation
import HTTPTypes
import Reactor
import Testing

@testable import HTTP

/// A connection driven by a virtual clock.
final class ConnectionHarness {
    var now = Instant(nanoseconds: 1_000_000_000)
    let connection: HTTPConnection
    var requests: [HTTPConnection.Request] = []

    init(limits: HTTPLimits = HTTPLimits(), autoHandle: Bool = true) {
        let box = ClockBox()
        box.now = now
        connection = HTTPConnection(
            limits: limits, dateCache: HTTPDateCache(wallClock: { 784_111_777 }), clock: { box.now })
        self.box = box
        box.now = now
        if autoHandle {
            connection.requestHandler = { [unowned self] in self.requests.append($0) }
        }
    }

    private let box: ClockBox
    final class ClockBox { var now = Instant(nanoseconds: 0) }

    func advance(_ d: Reactor.Duration) {
        now = now + d
        box.now = now
    }

    func send(_ text: String) { connection.receive(Array(text.utf8), now: now) }
    func output() -> String { String(decoding: connection.takeOutput(), as: UTF8.self) }
}

@Suite("HTTP connection")
struct HTTPConnectionTests {
    @Test("a response carries Content-Length, Date and keeps the connection alive")
    func basicResponse() {
        let h = ConnectionHarness()
        h.send("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.requests.count == 1)
        h.requests[0].responder.respond(.text(.ok, "ok"))
        let out = h.output()
        #expect(out.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.contains("Content-Length: 3\r\n"))
        #expect(out.contains("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"))
        #expect(!out.contains("Connection: close"))
        #expect(out.hasSuffix("\r\n\r\nok\n"))
        #expect(!h.connection.shouldClose)
    }

    @Test("HEAD gets the GET headers and Content-Length but no body")
    func head() {
        let h = ConnectionHarness()
        h.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
        h.requests[0].responder.respond(.text(.ok, "hello"))
        let out = h.output()
        #expect(out.contains("Content-Length: 6\r\n"))
        #expect(out.hasSuffix("\r\n\r\n"))
    }

    @Test("204 has neither Content-Length nor body")
    func noContent() {
        let h = ConnectionHarness()
        h.send("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n")
        h.requests[0].responder.respond(HTTPServerResponse(status: .noContent, body: Array("x".utf8)))
        let out = h.output()
        #expect(!out.contains("Content-Length"))
        #expect(out.hasSuffix("\r\n\r\n"))
    }

    @Test("pipelined responses are written in request order when handlers answer out of order")
    func pipelinedOrder() {
        let h = ConnectionHarness()
        h.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.requests.count == 3)
        h.requests[2].responder.respond(.text(.ok, "three"))
        h.requests[1].responder.respond(.text(.ok, "two"))
        #expect(h.output() == "")
        h.requests[0].responder.respond(.text(.ok, "one"))
        let out = h.output()
        let one = out.range(of: "one")!.lowerBound
        let two = out.range(of: "two")!.lowerBound
        let three = out.range(of: "three")!.lowerBound
        #expect(one < two && two < three)
    }

    @Test("Connection: close answers then closes, and later pipelined requests are dropped")
    func connectionClose() {
        let h = ConnectionHarness()
        h.send("GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.requests.count == 1)
        h.requests[0].responder.respond(.text(.ok, "bye"))
        #expect(h.output().contains("Connection: close\r\n"))
        #expect(h.connection.shouldClose)
    }

    @Test("a malformed request after a good one is answered 400 after the good response, then closes")
    func errorAfterGood() {
        let h = ConnectionHarness()
        h.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\nHost: h\n\n")
        #expect(h.requests.count == 1)
        #expect(h.output() == "")
        h.requests[0].responder.respond(.text(.ok, "first"))
        let out = h.output()
        #expect(out.hasPrefix("HTTP/1.1 200 OK"))
        #expect(out.contains("HTTP/1.1 400 Bad Request"))
        #expect(out.contains("Connection: close"))
        #expect(h.connection.shouldClose)
    }

    @Test("a 1 GB Content-Length is answered 413 at once and the connection closes")
    func hugeBody() {
        let h = ConnectionHarness()
        h.send("POST /api/whip/publish/r HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000000\r\n\r\n")
        let out = h.output()
        #expect(out.hasPrefix("HTTP/1.1 413 Content Too Large"))
        #expect(h.connection.shouldClose)
    }

    @Test("Expect: 100-continue gets an interim response before the body")
    func continueInterim() {
        let h = ConnectionHarness()
        h.send("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
        #expect(h.output() == "HTTP/1.1 100 Continue\r\n\r\n")
        h.send("abc")
        #expect(h.requests.first?.parsed.body == Array("abc".utf8))
    }

    @Test("a slow header is cut off with 408 at the header timeout")
    func slowHeader() throws {
        let h = ConnectionHarness()
        h.send("GET / HTTP/1.1\r\nHo")
        let deadline = try #require(h.connection.nextDeadline)
        #expect(deadline == h.now + .seconds(10))
        h.advance(.seconds(5))
        h.send("st: h\r\n")  // still within the same request: the deadline does not move
        #expect(h.connection.nextDeadline == deadline)
        h.advance(.seconds(5))
        h.connection.handleTimeout(now: h.now)
        #expect(h.output().hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(h.connection.shouldClose)
    }

    @Test("a request its handler never answers gets a 503 at the handler timeout; the late answer is dropped")
    func handlerTimeout() throws {
        var limits = HTTPLimits()
        limits.handlerTimeout = .seconds(15)
        let h = ConnectionHarness(limits: limits)
        h.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\n")
        try #require(h.requests.count == 2)
        h.requests[1].responder.respond(.text(.ok, "fast\n"))  // waits behind the first (in order)
        #expect(h.output() == "")
        #expect(h.connection.nextDeadline == h.now + .seconds(15))
        h.advance(.seconds(15))
        h.connection.handleTimeout(now: h.now)
        let out = h.output()
        #expect(out.hasPrefix("HTTP/1.1 503"))
        #expect(out.contains("HTTP/1.1 200"), "the answered request behind it goes out too")
        h.requests[0].responder.respond(.text(.ok, "late\n"))
        #expect(h.output() == "")
        #expect(!h.connection.shouldClose)
    }

    @Test("a body trickled too slowly is cut off by the same deadline as the head")
    func slowBody() {
        let h = ConnectionHarness()
        h.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc")
        let deadline = h.connection.nextDeadline
        #expect(deadline == h.now + .seconds(10))
        for _ in 0..<9 {
            h.advance(.seconds(1))
            h.send("x")
        }
        #expect(h.connection.nextDeadline == deadline)
        h.advance(.seconds(1))
        h.connection.handleTimeout(now: h.now)
        #expect(h.output().hasPrefix("HTTP/1.1 408"))
        #expect(h.requests.isEmpty)
    }

    @Test("a connection that never sends is closed silently after the header timeout")
    func silentFresh() {
        let h = ConnectionHarness()
        #expect(h.connection.nextDeadline == h.now + .seconds(10))
        h.advance(.seconds(10))
        h.connection.handleTimeout(now: h.now)
        #expect(h.output() == "")
        #expect(h.connection.shouldClose)
    }

    @Test("an idle keep-alive connection is closed after the idle timeout, not before")
    func idle() {
        let h = ConnectionHarness()
        h.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(h.connection.nextDeadline == h.now + .seconds(15))  // with its handler: the handler timeout
        h.requests[0].responder.respond(.text(.ok, "ok"))
        _ = h.output()
        #expect(h.connection.nextDeadline == h.now + .seconds(60))
        h.advance(.seconds(59))
        h.connection.handleTimeout(now: h.now)
        #expect(!h.connection.shouldClose)
        h.advance(.seconds(1))
        h.connection.handleTimeout(now: h.now)
        #expect(h.connection.shouldClose)
    }

    @Test("a responder called after the client left is a no-op and cancel handlers run")
    func deadClient() {
        let h = ConnectionHarness()
        h.send("POST /api/whip/publish/r HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        let responder = h.requests[0].responder
        var cancelled = false
        responder.onCancel { cancelled = true }
        h.connection.transportClosed()
        #expect(cancelled)
        #expect(!responder.isConnectionAlive)
        responder.respond(.text(.created, "late"))
        #expect(h.output() == "")
    }

    @Test("the pipelining depth limit holds requests back until earlier ones are answered")
    func pipelineDepth() {
        var limits = HTTPLimits()
        limits.maxPipelinedRequests = 2
        let h = ConnectionHarness(limits: limits)
        h.send(String(repeating: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", count: 5))
        #expect(h.requests.count == 2)
        #expect(h.connection.wantsReadPaused)
        h.requests[0].responder.respond(.text(.ok, "a"))
        #expect(h.requests.count == 3)
        for r in h.requests.dropFirst() { r.responder.respond(.text(.ok, "b")) }
        #expect(h.requests.count == 5)
    }

    @Test("handlers answering synchronously do not recurse per pipelined request")
    func synchronousHandlers() {
        let h = ConnectionHarness(autoHandle: false)
        var count = 0
        h.connection.requestHandler = { request in
            count += 1
            request.responder.respond(.text(.ok, "x"))
        }
        h.send(String(repeating: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", count: 500))
        #expect(count == 500)
        #expect(h.output().components(separatedBy: "HTTP/1.1 200").count == 501)
    }

    @Test("HTTP/1.0 gets Connection: keep-alive when it asked for it, and a close otherwise")
    func http10() {
        let h = ConnectionHarness()
        h.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        h.requests[0].responder.respond(.text(.ok, "a"))
        #expect(h.output().contains("Connection: keep-alive\r\n"))
        #expect(!h.connection.shouldClose)
        h.send("GET / HTTP/1.0\r\n\r\n")
        h.requests[1].responder.respond(.text(.ok, "b"))
        #expect(h.output().contains("Connection: close\r\n"))
        #expect(h.connection.shouldClose)
    }

    @Test("one read of many pipelined GETs queues no more output than the high watermark and one answer")
    func pipelinedReadIsParsedIncrementally() {
        let h = ConnectionHarness(autoHandle: false)
        var answered = 0
        let page = String(repeating: "x", count: 10_000)
        h.connection.requestHandler = { request in
            answered += 1
            request.responder.respond(.text(.ok, page))
        }
        // 550 × 28 bytes ≈ 15 KB of requests, asking for 5.5 MB of answers.
        h.send(String(repeating: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", count: 550))
        #expect(h.connection.wantsReadPaused)
        let first = h.connection.takeOutput()
        #expect(first.count <= HTTPLimits().outputHighWatermark + 10_200)
        #expect(answered < 550)
    }

    @Test("parsing pauses while queued output (here and in the transport) is above the high watermark, and resumes below it")
    func parsingPausesOnOutput() {
        var limits = HTTPLimits()
        limits.outputHighWatermark = 4096
        let h = ConnectionHarness(limits: limits, autoHandle: false)
        var backlog = 0
        h.connection.transportBacklog = { backlog }
        var answered = 0
        h.connection.requestHandler = { request in
            answered += 1
            request.responder.respond(.text(.ok, String(repeating: "x", count: 1000)))
        }
        h.send(String(repeating: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", count: 20))
        #expect(answered == 4)  // 4 × ~1.1 KB passes 4 KB
        #expect(h.connection.wantsReadPaused)
        #expect(h.connection.nextDeadline == nil)  // no 408 for requests we hold back
        // Handed to the transport, which has not sent it: still paused.
        backlog = h.connection.takeOutput().count
        h.connection.resumeParsing(now: h.now)
        #expect(answered == 4)
        #expect(h.connection.wantsReadPaused)
        // Sent: parsing resumes, four at a time.
        backlog = 0
        h.connection.resumeParsing(now: h.now)
        #expect(answered == 8)
        while answered < 20 {
            let before = answered
            _ = h.connection.takeOutput()
            h.connection.resumeParsing(now: h.now)
            #expect(answered > before)
            if answered == before { break }
        }
        #expect(answered == 20)
        _ = h.connection.takeOutput()
        #expect(!h.connection.wantsReadPaused)
        #expect(h.connection.nextDeadline != nil)  // idle again
    }

    @Test("the Date value follows the RFC 9110 IMF-fixdate format")
    func dateFormat() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 1_709_164_800) == "Thu, 29 Feb 2024 00:00:00 GMT")
    }
}
