import HTTPTypes

/// One complete request as read from the wire.
public struct HTTPParsedRequest: Sendable {
    /// Method, target (`path` holds the origin-form target, query included; `*` for
    /// asterisk-form), `authority` from `Host` (or the absolute-form target) and the fields.
    public var head: HTTPRequest
    /// The body, exactly `Content-Length` bytes (empty without one).
    public var body: [UInt8]
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (higher 1.x minors are answered as 1.1).
    public var minorVersion: Int
    /// Whether the client lets the connection stay open after this request.
    public var keepAlive: Bool

    public init(head: HTTPRequest, body: [UInt8], minorVersion: Int, keepAlive: Bool) {
        self.head = head
        self.body = body
        self.minorVersion = minorVersion
        self.keepAlive = keepAlive
    }
}

/// What the parser has after being fed bytes.
public enum HTTPParseEvent: Sendable {
    /// A complete request, in wire order.
    case request(HTTPParsedRequest)
    /// More bytes are needed.
    case needMoreData
    /// A request's head asked for `Expect: 100-continue` and no body byte has arrived yet:
    /// send `100 Continue` (reported once per request), then keep feeding.
    case continueRequested
    /// The stream is malformed; answer `error.status` and close. Repeats on every later call.
    case failed(HTTPParseError)
}
