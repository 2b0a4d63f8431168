import HTTPTypes

/// An incremental, strict HTTP/1.1 request parser (RFC 9112), sans-IO: append bytes as they
/// arrive, then call `next()` until it says `.needMoreData`. Pipelined requests come out in
/// wire order. It is a pure function of the bytes it was given (no clock, no I/O), which is
/// what the fuzz target relies on.
///
/// Policy, chosen to leave no room for request smuggling between us and any proxy in front:
/// - Lines end in CRLF only: a bare LF or a bare CR anywhere in the head is a 400 (RFC 9112
///   §2.2 allows but does not require accepting bare LF; accepting it is what desyncs parsers).
/// - NUL and other control characters in the head are a 400; obs-fold (a field line starting
///   with SP/HTAB) is a 400; whitespace between a field name and its colon is a 400.
/// - Bodies are framed by `Content-Length` only. `Transfer-Encoding` is a 501 (WHIP/WHEP
///   clients never send chunked requests), and a 400 together with `Content-Length` or in an
///   HTTP/1.0 request. More than one `Content-Length` field, or a list value, is a 400.
/// - HTTP/1.1 requires exactly one `Host`. Empty lines before the request line are skipped.
/// - Targets: origin-form, absolute-form (`http://host/path`) and `*` for OPTIONS; anything
///   else is a 400, `CONNECT` is a 501.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPLimits

    private var buffer: [UInt8] = []
    /// First byte not yet consumed.
    private var start = 0
    /// Next byte to scan for line ends while looking for the end of the head.
    private var scan = 0
    private var lineStart = 0
    private var sawCR = false
    private var requestLineEnd: Int?
    private var headerStart = 0
    private var headerLines = 0
    private var pending: PendingHead?
    private var continueReported = false
    private var failure: HTTPParseError?

    private struct PendingHead: Sendable {
        var head: HTTPRequest
        var minorVersion: Int
        var keepAlive: Bool
        var contentLength: Int
        var expectContinue: Bool
    }

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Bytes received and not yet returned as part of a request.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Whether part of a request has been received (for timeouts: a 408 is only owed to a
    /// client that started a request).
    public var hasPartialRequest: Bool { pending != nil || buffer.count > start }

    /// Whether the stream failed; nothing more will be parsed.
    public var hasFailed: Bool { failure != nil }

    /// Appends received bytes. Nothing is parsed until `next()`.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Appends received bytes. Nothing is parsed until `next()`.
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        buffer.append(contentsOf: bytes)
    }

    /// Parses as far as the buffered bytes allow.
    public mutating func next() -> HTTPParseEvent {
        if let failure { return .failed(failure) }
        if pending == nil {
            switch scanHead() {
            case .failed(let error): return fail(error)
            case .needMoreData: return .needMoreData
            case .complete(let headEnd):
                switch parseHead(end: headEnd) {
                case .failure(let error): return fail(error)
                case .success(let head):
                    pending = head
                    start = headEnd
                    resetScanner()
                }
            }
        }
        guard let head = pending else { return .needMoreData }
        let available = buffer.count - start
        if available >= head.contentLength {
            let body = Array(buffer[start..<(start + head.contentLength)])
            start += head.contentLength
            pending = nil
            continueReported = false
            resetScanner()
            compact()
            return .request(
                HTTPParsedRequest(
                    head: head.head, body: body, minorVersion: head.minorVersion,
                    keepAlive: head.keepAlive))
        }
        if head.expectContinue && !continueReported && available == 0 {
            continueReported = true
            return .continueRequested
        }
        return .needMoreData
    }

    /// Parses a whole byte string at once (the fuzz target's entry point): every request it
    /// holds, then the final event (`.needMoreData` or `.failed`).
    public static func parseAll(
        _ bytes: some Sequence<UInt8>, limits: HTTPLimits = HTTPLimits()
    ) -> (requests: [HTTPParsedRequest], last: HTTPParseEvent) {
        var parser = HTTPRequestParser(limits: limits)
        parser.append(contentsOf: bytes)
        var requests: [HTTPParsedRequest] = []
        while true {
            switch parser.next() {
            case .request(let r): requests.append(r)
            case .continueRequested: continue
            case let other: return (requests, other)
            }
        }
    }

    // MARK: - Head scanning

    private enum ScanResult {
        case needMoreData
        case complete(headEnd: Int)
        case failed(HTTPParseError)
    }

    private mutating func resetScanner() {
        scan = start
        lineStart = start
        sawCR = false
        requestLineEnd = nil
        headerLines = 0
    }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParseEvent {
        failure = error
        buffer = []
        start = 0
        resetScanner()
        pending = nil
        return .failed(error)
    }

    private mutating func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 4096)  // idle connections hold no large buffers
        } else if start > 4096 && start * 2 > buffer.count {
            buffer.removeFirst(start)
        } else {
            return
        }
        start = 0
        resetScanner()
    }

    /// Finds the end of the head, one byte at a time from where the last call stopped, so a
    /// client that sends one byte per packet costs linear time.
    private mutating func scanHead() -> ScanResult {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        while scan < buffer.count {
            let byte = buffer[scan]
            if sawCR {
                guard byte == lf else { return .failed(.badRequest("bare CR in request head")) }
                sawCR = false
                let lineEnd = scan - 1
                let nextLine = scan + 1
                if requestLineEnd == nil {
                    if lineEnd == lineStart {
                        // RFC 9112 §2.2: ignore empty lines before the request line.
                        start = nextLine
                    } else {
                        requestLineEnd = lineEnd
                        headerStart = nextLine
                    }
                } else if lineEnd == lineStart {
                    scan = nextLine
                    lineStart = nextLine
                    return .complete(headEnd: nextLine)
                } else {
                    headerLines += 1
                    if headerLines > limits.maxHeaderCount { return .failed(.headersTooLarge) }
                }
                lineStart = nextLine
            } else if byte == cr {
                sawCR = true
            } else if byte == lf {
                return .failed(.badRequest("bare LF in request head (lines must end in CRLF)"))
            } else if byte == 0 {
                return .failed(.badRequest("NUL byte in request head"))
            }
            scan += 1
            if requestLineEnd == nil {
                // Bytes of the request line so far, not counting a trailing CR.
                if scan - start - (sawCR ? 1 : 0) > limits.maxRequestLineBytes {
                    return .failed(.requestLineTooLong)
                }
            } else if scan - headerStart > limits.maxHeaderBytes + 2 {
                return .failed(.headersTooLarge)
            }
        }
        if requestLineEnd == nil && start == buffer.count {
            // Only empty lines so far: drop them so they cannot pile up.
            compact()
        }
        return .needMoreData
    }

    // MARK: - Head parsing

    private func parseHead(end headEnd: Int) -> Result<PendingHead, HTTPParseError> {
        guard let lineEnd = requestLineEnd else { return .failure(.badRequest("no request line")) }
        let line = buffer[start..<lineEnd]
        let space = UInt8(ascii: " ")

        // request-line = method SP request-target SP HTTP-version
        guard let firstSpace = line.firstIndex(of: space) else {
            return .failure(.badRequest("malformed request line"))
        }
        let methodBytes = line[line.startIndex..<firstSpace]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(HTTPSyntax.isTokenChar) else {
            return .failure(.badRequest("malformed method"))
        }
        let afterMethod = line[(firstSpace + 1)...]
        guard let secondSpace = afterMethod.firstIndex(of: space) else {
            return .failure(.badRequest("malformed request line"))
        }
        let targetBytes = afterMethod[afterMethod.startIndex..<secondSpace]
        let versionBytes = afterMethod[(secondSpace + 1)...]
        guard !targetBytes.isEmpty else { return .failure(.badRequest("empty request target")) }
        guard targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            return .failure(.badRequest("invalid character in request target"))
        }

        let minorVersion: Int
        switch HTTPSyntax.parseVersion(versionBytes) {
        case .invalid: return .failure(.badRequest("malformed HTTP version"))
        case .unsupportedMajor: return .failure(.versionNotSupported)
        case .minor(let minor): minorVersion = minor == 0 ? 0 : 1
        }

        let methodString = String(decoding: methodBytes, as: UTF8.self)
        guard let method = HTTPRequest.Method(methodString) else {
            return .failure(.badRequest("malformed method"))
        }
        if method == .connect { return .failure(.notImplemented("CONNECT")) }

        // Field lines.
        var fields = HTTPFields()
        fields.reserveCapacity(headerLines)
        var contentLength: Int?
        var contentLengthSeen = false
        var transferEncoding = false
        var hostCount = 0
        var host: String?
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false

        var cursor = headerStart
        let sectionEnd = headEnd - 2
        while cursor < sectionEnd {
            // The scanner guarantees every line in the section ends in CRLF.
            var eol = cursor
            while buffer[eol] != UInt8(ascii: "\r") { eol += 1 }
            let fieldLine = buffer[cursor..<eol]
            cursor = eol + 2

            guard let first = fieldLine.first else { continue }
            if first == space || first == UInt8(ascii: "\t") {
                return .failure(.badRequest("obsolete line folding in header field"))
            }
            guard let colon = fieldLine.firstIndex(of: UInt8(ascii: ":")) else {
                return .failure(.badRequest("header field without colon"))
            }
            let nameBytes = fieldLine[fieldLine.startIndex..<colon]
            guard !nameBytes.isEmpty else { return .failure(.badRequest("empty header field name")) }
            guard nameBytes.allSatisfy(HTTPSyntax.isTokenChar) else {
                if let last = nameBytes.last, last == space || last == UInt8(ascii: "\t") {
                    return .failure(.badRequest("whitespace between header field name and colon"))
                }
                return .failure(.badRequest("invalid character in header field name"))
            }
            var valueBytes = fieldLine[(colon + 1)...]
            while let f = valueBytes.first, f == space || f == UInt8(ascii: "\t") {
                valueBytes = valueBytes.dropFirst()
            }
            while let l = valueBytes.last, l == space || l == UInt8(ascii: "\t") {
                valueBytes = valueBytes.dropLast()
            }
            guard valueBytes.allSatisfy(HTTPSyntax.isFieldValueChar) else {
                return .failure(.badRequest("invalid character in header field value"))
            }
            guard let name = HTTPField.Name(String(decoding: nameBytes, as: UTF8.self)) else {
                return .failure(.badRequest("invalid header field name"))
            }

            switch name.canonicalName {
            case "content-length":
                if contentLengthSeen {
                    return .failure(.badRequest("more than one Content-Length"))
                }
                contentLengthSeen = true
                switch HTTPSyntax.parseContentLength(valueBytes, max: limits.maxBodyBytes) {
                case .invalid: return .failure(.badRequest("malformed Content-Length"))
                case .tooLarge: return .failure(.bodyTooLarge)
                case .value(let n): contentLength = n
                }
            case "transfer-encoding":
                transferEncoding = true
            case "host":
                hostCount += 1
                guard valueBytes.allSatisfy(HTTPSyntax.isHostChar) else {
                    return .failure(.badRequest("malformed Host"))
                }
                host = String(decoding: valueBytes, as: UTF8.self)
            case "connection":
                for option in HTTPSyntax.commaList(valueBytes) {
                    if HTTPSyntax.equalsIgnoringCase(option, "close") { connectionClose = true }
                    if HTTPSyntax.equalsIgnoringCase(option, "keep-alive") { connectionKeepAlive = true }
                }
            case "expect":
                guard HTTPSyntax.equalsIgnoringCase(valueBytes, "100-continue") else {
                    return .failure(.expectationFailed)
                }
                // RFC 9110 §10.1.1: an HTTP/1.0 client cannot understand 100 Continue.
                expectContinue = minorVersion >= 1
            default:
                break
            }
            fields.append(HTTPField(name: name, value: valueBytes))
        }

        if transferEncoding {
            if contentLengthSeen {
                return .failure(.badRequest("both Transfer-Encoding and Content-Length"))
            }
            if minorVersion == 0 {
                return .failure(.badRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            return .failure(.notImplemented("Transfer-Encoding (send Content-Length)"))
        }
        if hostCount > 1 { return .failure(.badRequest("more than one Host")) }
        if minorVersion >= 1 && hostCount == 0 { return .failure(.badRequest("missing Host")) }

        // Request target forms (RFC 9112 §3.2).
        let path: String
        var authority = host
        if targetBytes.first == UInt8(ascii: "/") {
            path = String(decoding: targetBytes, as: UTF8.self)
        } else if targetBytes.elementsEqual("*".utf8) {
            guard method == .options else {
                return .failure(.badRequest("asterisk-form target is only for OPTIONS"))
            }
            path = "*"
        } else if let absolute = HTTPSyntax.splitAbsoluteForm(targetBytes) {
            authority = absolute.authority
            path = absolute.path
        } else {
            return .failure(.badRequest("unsupported request target form"))
        }

        let keepAlive = minorVersion >= 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let head = HTTPRequest(
            method: method, scheme: nil, authority: authority, path: path, headerFields: fields)
        return .success(
            PendingHead(
                head: head, minorVersion: minorVersion, keepAlive: keepAlive,
                contentLength: contentLength ?? 0, expectContinue: expectContinue))
    }
}
