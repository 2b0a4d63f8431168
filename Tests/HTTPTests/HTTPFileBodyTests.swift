import Foundation
import Glibc
import HTTPTypes
import Reactor
import Testing

@testable import HTTP

/// A response whose body is a file (`HTTPServerResponse.file`) through `HTTPConnection`:
/// streamed in bounded reads after its head, parsing held meanwhile, the descriptor released.
@Suite("HTTP file bodies")
struct HTTPFileBodyTests {
    /// A temporary file with `size` known bytes, opened for reading.
    final class TemporaryFile {
        let path: String
        let bytes: [UInt8]

        init(size: Int) throws {
            path = NSTemporaryDirectory() + "lsfu-body-\(UInt32.random(in: 0...UInt32.max))"
            bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 256) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }

        deinit { unlink(path) }

        func body(offset: Int = 0, length: Int? = nil) -> HTTPFileBody {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            precondition(fd >= 0)
            return HTTPFileBody(adopting: fd, offset: offset, length: length ?? bytes.count - offset)
        }
    }

    static func response(_ body: HTTPFileBody) -> HTTPServerResponse {
        var r = HTTPServerResponse(status: .ok)
        r.head.headerFields[.contentType] = "video/x-ivf"
        r.file = body
        return r
    }

    @Test("a file body goes out after its head in reads of at most 64 KiB, and the next pipelined answer follows it")
    func streamsInBoundedReads() throws {
        let file = try TemporaryFile(size: 300_000)
        let h = ConnectionHarness(autoHandle: false)
        var handled: [String] = []
        h.connection.requestHandler = { request in
            handled.append(request.parsed.head.path ?? "")
            if request.parsed.head.path == "/file" {
                request.responder.respond(Self.response(file.body()))
            } else {
                request.responder.respond(.text(.ok, "next"))
            }
        }
        h.send("GET /file HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        // The second request waits until the file has gone: nothing queues behind it.
        #expect(handled == ["/file"])
        #expect(h.connection.wantsReadPaused)
        var out: [UInt8] = []
        var pieces = 0
        while h.connection.hasOutput {
            let piece = h.connection.takeOutput(max: 1 << 20)
            #expect(piece.count <= HTTPConnection.fileReadSize)
            #expect(h.connection.queuedOutputBytes <= HTTPLimits().outputHighWatermark)
            out += piece
            pieces += 1
            if h.connection.hasOutput { #expect(handled == ["/file"]) }
        }
        #expect(pieces >= 300_000 / HTTPConnection.fileReadSize)
        h.connection.resumeParsing(now: h.now)
        #expect(handled == ["/file", "/next"])
        out += h.connection.takeOutput()
        let text = String(decoding: out, as: UTF8.self)
        let headEnd = try #require(text.range(of: "\r\n\r\n"))
        let head = String(text[..<headEnd.lowerBound])
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 300000"))
        let headBytes = text[..<headEnd.upperBound].utf8.count
        let sameBytes = Array(out[headBytes..<(headBytes + 300_000)]) == file.bytes
        #expect(sameBytes, "the body differs from the file")
        #expect(String(decoding: out[(headBytes + 300_000)...], as: UTF8.self).hasSuffix("\r\n\r\nnext\n"))
        #expect(!h.connection.wantsReadPaused)
    }

    @Test("a transport that sends from the file itself (sendfile) is given the rest of the body after the head")
    func pendingFileForSendfile() throws {
        let file = try TemporaryFile(size: 10_000)
        let h = ConnectionHarness()
        h.send("GET /f HTTP/1.1\r\nHost: h\r\n\r\n")
        h.requests[0].responder.respond(Self.response(file.body(offset: 100, length: 5000)))
        #expect(h.connection.pendingFile == nil)  // the head first
        let head = h.output()
        #expect(head.contains("Content-Length: 5000\r\n"))
        let pending = try #require(h.connection.pendingFile)
        #expect(pending.offset == 100 && pending.count == 5000)
        h.connection.fileBodySent(3000)
        #expect(h.connection.pendingFile?.offset == 3100 && h.connection.pendingFile?.count == 2000)
        h.connection.fileBodySent(2000)
        #expect(h.connection.pendingFile == nil && !h.connection.hasOutput)
        h.connection.resumeParsing(now: h.now)
        #expect(!h.connection.wantsReadPaused)
        #expect(h.connection.nextDeadline != nil)  // idle again
    }

    @Test("HEAD gets the file answer's Content-Length and no body; the descriptor is released at once")
    func headReleasesDescriptor() throws {
        let file = try TemporaryFile(size: 4000)
        let h = ConnectionHarness()
        h.send("HEAD /f HTTP/1.1\r\nHost: h\r\n\r\n")
        weak var released: HTTPFileBody?
        do {
            let body = file.body()
            released = body
            h.requests[0].responder.respond(Self.response(body))
        }
        let text = h.output()
        #expect(text.contains("Content-Length: 4000\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
        #expect(!h.connection.hasOutput)
        #expect(released == nil)
    }

    @Test("the descriptor is released when the body has been sent, and when the connection closes mid-body")
    func descriptorReleased() throws {
        let file = try TemporaryFile(size: 200_000)
        weak var sent: HTTPFileBody?
        weak var abandoned: HTTPFileBody?
        let h1 = ConnectionHarness()
        h1.send("GET /f HTTP/1.1\r\nHost: h\r\n\r\n")
        do {
            let body = file.body()
            sent = body
            h1.requests[0].responder.respond(Self.response(body))
        }
        #expect(sent != nil)
        while h1.connection.hasOutput { _ = h1.connection.takeOutput(max: 65536) }
        #expect(sent == nil)

        let h2 = ConnectionHarness()
        h2.send("GET /f HTTP/1.1\r\nHost: h\r\n\r\n")
        do {
            let body = file.body()
            abandoned = body
            h2.requests[0].responder.respond(Self.response(body))
        }
        _ = h2.connection.takeOutput(max: 65536)
        _ = h2.connection.takeOutput(max: 65536)
        #expect(abandoned != nil)
        h2.connection.transportClosed()
        #expect(abandoned == nil)
    }

    @Test("a file shorter than its announced length makes the connection abort instead of a wrong answer")
    func shortFileAborts() throws {
        let file = try TemporaryFile(size: 1000)
        let h = ConnectionHarness()
        h.send("GET /f HTTP/1.1\r\nHost: h\r\n\r\n")
        h.requests[0].responder.respond(Self.response(file.body(offset: 0, length: 5000)))
        var total = 0
        while h.connection.hasOutput, !h.connection.mustAbort { total += h.connection.takeOutput(max: 65536).count }
        #expect(h.connection.mustAbort)
        #expect(h.connection.shouldClose)
        #expect(total < 5000)
    }
}
