import Glibc
import HTTPTypes
import Reactor

/// One HTTP/1.1 connection as a sans-IO state machine: bytes in → requests out; responses in
/// → bytes out, in request order even when handlers answer out of order (pipelining with
/// asynchronous handlers); deadlines out → `handleTimeout(now:)`. The transport (plain TCP or
/// TLS) feeds `receive`, writes what `takeOutput()` returns when `onOutput` fires, and closes
/// the socket once `shouldClose` is true and the output is written (lingering when
/// `wantsLingeringClose`).
///
/// Back-pressure: requests are parsed one at a time, and parsing stops while the output
/// queued (here and in the transport, `transportBacklog`) is above
/// `limits.outputHighWatermark`; the transport calls `resumeParsing(now:)` once it has
/// written some. A client that pipelines requests and never reads holds no more than that.
///
/// A response with a file body (`HTTPServerResponse.file`) is streamed after its head as the
/// output drains: the transport either sends from the file itself (`pendingFile`, then
/// `fileBodySent`) or takes bounded reads of it through `takeOutput`. Parsing stays paused and
/// the responses behind it wait while it is sent, so memory stays bounded whatever its size.
///
/// Not `Sendable`: owned by the core that accepted the socket.
public final class HTTPConnection {
    /// A request ready for the application, with the responder that answers it.
    public struct Request {
        public var parsed: HTTPParsedRequest
        public var responder: HTTPResponder
        /// When its last byte arrived.
        public var receivedAt: Instant
    }

    public let limits: HTTPLimits
    private var parser: HTTPRequestParser
    private let dateCache: HTTPDateCache
    private let clock: () -> Instant

    private struct InFlight {
        var isHead: Bool
        /// An HTTP/1.0 client that asked for keep-alive must be told it got it.
        var http10KeepAlive = false
        var keepAlive: Bool
        var responder: HTTPResponder
        var response: [UInt8]?
        /// Sent after `response` (the head), unless HEAD or a bodyless status.
        var file: HTTPFileBody? = nil
        var closeAfter: Bool
        /// When the request went to its handler (nil: answered by the connection itself).
        var dispatchedAt: Instant? = nil
    }

    private var nextSequence: UInt64 = 0
    /// Requests handed out and not yet written, by sequence number (oldest first).
    private var inFlight: [(sequence: UInt64, entry: InFlight)] = []
    private var ready: [Request] = []
    private var output: [UInt8] = []
    /// First byte of `output` not yet taken (output is taken in pieces).
    private var outputStart = 0
    /// Bytes written to the transport and not yet sent by it (set by the transport).
    public var transportBacklog: () -> Int = { 0 }
    /// The file body being sent (after its head, which is in `output` until taken) and how much
    /// of it has been sent. Nothing behind it is written until it ends.
    private var fileStream: (body: HTTPFileBody, sent: Int)?
    /// A file body ended inside the transport's write loop: the responses behind it move on at
    /// the next `resumeParsing`, not from inside that loop.
    private var fileStreamEnded = false
    /// A file body could not be read to its end: its `Content-Length` cannot be honoured, so
    /// the transport must abort the connection (the client sees a truncated answer).
    public private(set) var mustAbort = false
    /// Parsing stopped because output was above the high watermark.
    private var pausedForOutput = false
    /// The close follows an error while the client may still be sending: linger.
    private var lingerOnClose = false
    /// No request will be read any more; close once everything queued is written.
    private var closing = false
    public private(set) var isClosed = false
    private var requestStartedAt: Instant?
    private var idleSince: Instant
    private var fresh = true

    /// Called when `takeOutput()` has bytes (set by the transport).
    public var onOutput: (() -> Void)?
    /// Receives each parsed request in order (set by the server). Without one, requests
    /// wait in `nextRequest()`. Never called re-entrantly: a handler that answers at once
    /// does not recurse into the next request.
    public var requestHandler: ((Request) -> Void)?
    private var pumping = false
    private var needsPump = false

    public init(limits: HTTPLimits, dateCache: HTTPDateCache, clock: @escaping () -> Instant) {
        self.limits = limits
        self.parser = HTTPRequestParser(limits: limits)
        self.dateCache = dateCache
        self.clock = clock
        self.idleSince = clock()
    }

    // MARK: Input

    /// Feeds received bytes and parses as many requests as the pipelining limit allows.
    public func receive(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        guard !closing, !isClosed, bytes.count > 0 else { return }
        if !parser.hasPartialRequest { requestStartedAt = now }
        fresh = false
        parser.append(bytes)
        pump(now: now)
    }

    private func pump(now: Instant) {
        if pumping {
            needsPump = true
            return
        }
        pumping = true
        defer { pumping = false }
        repeat {
            needsPump = false
            guard requestHandler != nil else {
                parse(now: now, limit: .max)
                break
            }
            // One request at a time: an answer given at once counts against the output
            // watermark before the next request is parsed.
            while !isClosed {
                if ready.isEmpty { parse(now: now, limit: 1) }
                guard !ready.isEmpty, let handler = requestHandler else { break }
                handler(ready.removeFirst())
            }
        } while needsPump && !isClosed
    }

    /// Convenience for tests and TLS: feeds bytes from an array.
    public func receive(_ bytes: [UInt8], now: Instant) {
        bytes.withUnsafeBytes { receive($0, now: now) }
    }

    /// The next parsed request, if any.
    public func nextRequest() -> Request? {
        ready.isEmpty ? nil : ready.removeFirst()
    }

    /// Whether the transport should stop reading: enough requests are queued, output is
    /// piling up, or the connection is closing.
    public var wantsReadPaused: Bool {
        closing || isClosed || inFlight.count >= limits.maxPipelinedRequests || isOutputAboveHighWatermark
            || parser.bufferedByteCount > limits.maxRequestLineBytes + limits.maxHeaderBytes + limits.maxBodyBytes
    }

    /// Output not yet written to the network: here and in the transport's queue.
    public var queuedOutputBytes: Int { output.count - outputStart + transportBacklog() }

    /// A file body being sent counts as output above the watermark: nothing more is parsed
    /// (or queued) until it has gone.
    private var isOutputAboveHighWatermark: Bool { fileStream != nil || queuedOutputBytes > limits.outputHighWatermark }

    /// Parses what was held back while output was above the high watermark, if it is no
    /// longer (the transport calls this after writing).
    public func resumeParsing(now: Instant) {
        if fileStreamEnded {
            fileStreamEnded = false
            if !isClosed { flushInOrder() }
        }
        guard pausedForOutput, !closing, !isClosed, !isOutputAboveHighWatermark else { return }
        pausedForOutput = false
        // The header timeout of a request held back restarts: the wait was ours.
        if parser.hasPartialRequest { requestStartedAt = now }
        pump(now: now)
    }

    /// Parses up to `limit` requests into `ready`.
    private func parse(now: Instant, limit: Int) {
        var count = 0
        while !closing && inFlight.count < limits.maxPipelinedRequests && count < limit {
            if isOutputAboveHighWatermark {
                pausedForOutput = parser.hasPartialRequest
                return
            }
            switch parser.next() {
            case .needMoreData:
                return
            case .continueRequested:
                if inFlight.isEmpty {
                    output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    onOutput?()
                }
            case .failed(let error):
                // The framing is lost: answer after the requests before it, then close.
                closing = true
                lingerOnClose = true
                let sequence = nextSequence
                nextSequence += 1
                let responder = HTTPResponder(connection: self, sequence: sequence)
                inFlight.append((sequence, InFlight(isHead: false, keepAlive: false, responder: responder, response: nil, closeAfter: true)))
                complete(sequence: sequence, with: .error(error.status, error.description))
                return
            case .request(let parsed):
                let sequence = nextSequence
                nextSequence += 1
                let responder = HTTPResponder(connection: self, sequence: sequence)
                inFlight.append(
                    (sequence, InFlight(
                        isHead: parsed.head.method == .head, http10KeepAlive: parsed.minorVersion == 0 && parsed.keepAlive,
                        keepAlive: parsed.keepAlive, responder: responder, response: nil, closeAfter: !parsed.keepAlive,
                        dispatchedAt: now)))
                if !parsed.keepAlive { closing = true }
                requestStartedAt = parser.hasPartialRequest ? now : nil
                ready.append(Request(parsed: parsed, responder: responder, receivedAt: now))
                count += 1
            }
        }
    }

    // MARK: Output

    /// Called by a responder: serializes its response and writes every response that is now
    /// at the head of the line.
    func complete(sequence: UInt64, with response: HTTPServerResponse) {
        guard !isClosed, let index = inFlight.firstIndex(where: { $0.sequence == sequence }) else { return }
        var entry = inFlight[index].entry
        if response.head.headerFields[.connection].map({ $0.lowercased().contains("close") }) == true {
            entry.closeAfter = true
        }
        entry.response = serialize(response, isHead: entry.isHead, close: entry.closeAfter, announceKeepAlive: entry.http10KeepAlive)
        if !entry.isHead && !Self.isBodyless(response.head.status.code) { entry.file = response.file }
        inFlight[index].entry = entry
        flushInOrder()
    }

    private func flushInOrder() {
        var wrote = false
        while fileStream == nil, let first = inFlight.first, let bytes = first.entry.response {
            output.append(contentsOf: bytes)
            inFlight.removeFirst()
            wrote = true
            if let file = first.entry.file, file.length > 0 { fileStream = (file, 0) }
            if first.entry.closeAfter {
                // Nothing after a closing response is sent; cancel what is still pending.
                closing = true
                let rest = inFlight
                inFlight = []
                ready = []
                for item in rest { item.entry.responder.cancel() }
                break
            }
        }
        if inFlight.isEmpty { idleSince = clock() }
        if wrote {
            onOutput?()
            // Reading may resume: parse what was held back by the pipelining limit.
            if !closing { pump(now: clock()) }
        }
    }

    /// Up to `limit` bytes to write, removed from the output: queued bytes first, then the
    /// next read of a file body being sent (at most `fileReadSize`).
    public func takeOutput(max limit: Int = .max) -> [UInt8] {
        if output.count == outputStart, fileStream != nil { return readFileBody(max: limit) }
        let available = output.count - outputStart
        if outputStart == 0, available <= limit {
            let bytes = output
            output = []
            return bytes
        }
        let n = min(limit, available)
        let bytes = Array(output[outputStart..<(outputStart + n)])
        outputStart += n
        if outputStart == output.count {
            output = []
            outputStart = 0
        } else if outputStart >= output.count / 2 {
            output.removeFirst(outputStart)
            outputStart = 0
        }
        return bytes
    }

    /// Whether output is waiting in `takeOutput()` (queued bytes or a file body).
    public var hasOutput: Bool { output.count > outputStart || fileStream != nil }

    /// True once the transport should close the socket (after writing `takeOutput()`), or
    /// abort it (`mustAbort`).
    public var shouldClose: Bool { isClosed || mustAbort || (closing && inFlight.isEmpty && !hasOutput) }

    // MARK: File bodies

    /// Bytes of a file body read per `takeOutput` at most. The read runs on the core: a short
    /// blocking call, on a file the page cache most likely holds (a recording that was just
    /// written), and bounded so that one read never holds the loop for long.
    public static let fileReadSize = 64 * 1024

    /// The rest of the file body being sent, once every byte queued before it has been taken:
    /// a transport that can send from a file (`sendfile(2)`) sends from here and reports it
    /// with `fileBodySent`; any other takes the bytes through `takeOutput`.
    public var pendingFile: (fd: Int32, offset: Int, count: Int)? {
        guard output.count == outputStart, let (body, sent) = fileStream else { return nil }
        return (body.fd, body.offset + sent, body.length - sent)
    }

    /// Whether a file body is being sent (the transport counts its bytes per loop turn).
    public var isSendingFile: Bool { fileStream != nil }

    /// The transport sent `count` bytes of `pendingFile`.
    public func fileBodySent(_ count: Int) {
        guard let (body, sent) = fileStream else { return }
        if sent + count >= body.length {
            fileStream = nil
            fileStreamEnded = true
            if inFlight.isEmpty { idleSince = clock() }
        } else {
            fileStream = (body, sent + count)
        }
    }

    /// The transport could not read the file (`sendfile` met its end early, or an I/O error).
    public func fileBodyFailed() {
        fileStream = nil
        closing = true
        mustAbort = true
    }

    private func readFileBody(max limit: Int) -> [UInt8] {
        guard let (body, sent) = fileStream else { return [] }
        let n = min(limit, Self.fileReadSize, body.length - sent)
        guard n > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: n)
        var done = 0
        while done < n {
            let r = bytes.withUnsafeMutableBytes { buffer in
                pread(body.fd, buffer.baseAddress! + done, n - done, off_t(body.offset + sent + done))
            }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else {
                // An I/O error, or the file is shorter than announced.
                fileBodyFailed()
                return []
            }
            done += r
        }
        fileBodySent(n)
        return bytes
    }

    /// Whether the close should linger (read and discard for a bounded time after our FIN):
    /// the connection answered an error, or stopped, while the client may still be sending,
    /// and closing at once with its bytes unread would reset the connection and could
    /// destroy the answer before the client reads it.
    public var wantsLingeringClose: Bool { lingerOnClose || parser.bufferedByteCount > 0 }

    /// Whether a close is pending after the queued output (the transport closes after flushing).
    public var isClosing: Bool { closing }

    private func serialize(_ response: HTTPServerResponse, isHead: Bool, close: Bool, announceKeepAlive: Bool = false) -> [UInt8] {
        let code = response.head.status.code
        var out: [UInt8] = []
        out.reserveCapacity(192 + (isHead || response.file != nil ? 0 : response.body.count))
        out.append(contentsOf: "HTTP/1.1 \(code) ".utf8)
        let reason = response.head.status.reasonPhrase
        out.append(contentsOf: (reason.isEmpty ? HTTPReasonPhrase.phrase(for: code) : reason).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for field in response.head.headerFields {
            switch field.name {
            case .contentLength, .transferEncoding, .connection, .date: continue
            default: break
            }
            out.append(contentsOf: field.name.rawName.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "Date: \(dateCache.current)\r\n".utf8)
        let bodyless = Self.isBodyless(code)
        if !bodyless {
            out.append(contentsOf: "Content-Length: \(response.bodyLength)\r\n".utf8)
        }
        if close {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if announceKeepAlive {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        if !isHead && !bodyless && response.file == nil { out.append(contentsOf: response.body) }
        return out
    }

    static func isBodyless(_ code: Int) -> Bool { code == 204 || code == 304 || (100..<200).contains(code) }

    // MARK: Time

    /// When `handleTimeout(now:)` must next be called, or nil when no deadline runs (a
    /// request is with its handler, or the connection is closed).
    public var nextDeadline: Instant? {
        if isClosed { return nil }
        if let handler = handlerDeadline { return handler }
        // Closing, or waiting for the client to read: the transport's write-progress
        // deadline (`TCPLimits.writeStallTimeout`, the idle timeout) bounds it.
        if closing || isOutputAboveHighWatermark { return nil }
        if !inFlight.isEmpty { return nil }
        if parser.hasPartialRequest, let started = requestStartedAt { return started + limits.headerTimeout }
        return idleSince + (fresh ? limits.headerTimeout : limits.idleTimeout)
    }

    /// Enforces the header and idle timeouts: a client in the middle of a request gets a 408
    /// and the connection closes; an idle one is closed without a word.
    public func handleTimeout(now: Instant) {
        answerOverdueRequests(now: now)
        guard inFlight.isEmpty, let deadline = nextDeadline, now >= deadline else { return }
        if parser.hasPartialRequest {
            closing = true
            lingerOnClose = true
            let sequence = nextSequence
            nextSequence += 1
            let responder = HTTPResponder(connection: self, sequence: sequence)
            inFlight.append((sequence, InFlight(isHead: false, keepAlive: false, responder: responder, response: nil, closeAfter: true)))
            complete(sequence: sequence, with: .error(.requestTimeout, "request not received in time"))
        } else {
            closing = true
        }
    }

    /// The earliest time a handler's request runs out of `limits.handlerTimeout`.
    private var handlerDeadline: Instant? {
        var earliest: Instant?
        for (_, entry) in inFlight where entry.response == nil && !entry.responder.hasResponded {
            if let at = entry.dispatchedAt {
                let deadline = at + limits.handlerTimeout
                if earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
            }
        }
        return earliest
    }

    /// Requests whose handler has not answered within `limits.handlerTimeout` get a 503; the
    /// handler's own answer, if it ever comes, is then ignored (`HTTPResponder`: first wins).
    private func answerOverdueRequests(now: Instant) {
        let overdue = inFlight.compactMap { (_, entry) -> HTTPResponder? in
            guard entry.response == nil, !entry.responder.hasResponded, let at = entry.dispatchedAt,
                now >= at + limits.handlerTimeout
            else { return nil }
            return entry.responder
        }
        for responder in overdue {
            responder.respond(
                .error(.serviceUnavailable, "the request was not answered within \(limits.handlerTimeout.nanoseconds / 1_000_000_000) s"))
        }
    }

    /// The transport closed (peer gone, error, or after `shouldClose`): pending responders
    /// become no-ops and run their cancel handlers.
    public func transportClosed() {
        guard !isClosed else { return }
        isClosed = true
        closing = true
        let pending = inFlight
        inFlight = []
        ready = []
        output = []
        outputStart = 0
        fileStream = nil
        transportBacklog = { 0 }
        onOutput = nil
        requestHandler = nil
        for item in pending { item.entry.responder.cancel() }
    }

    /// Requests being handled or awaiting their turn to be written.
    public var inFlightCount: Int { inFlight.count }
}
