import HTTPTypes

/// A response a handler produces: status, fields and the whole body, or a part of a file
/// (`file`, streamed from disk; `body` is then ignored). The connection adds
/// `Content-Length`, `Date` and `Connection` itself (and drops any the handler set), and
/// leaves the body out for HEAD, 204 and 304. `Sendable`, so a room's core can build it.
public struct HTTPServerResponse: Sendable {
    public var head: HTTPResponse
    public var body: [UInt8]
    /// A file body sent in place of `body`.
    public var file: HTTPFileBody?

    public init(status: HTTPResponse.Status, headerFields: HTTPFields = [:], body: [UInt8] = []) {
        self.head = HTTPResponse(status: status, headerFields: headerFields)
        self.body = body
    }

    public init(head: HTTPResponse, body: [UInt8] = []) {
        self.head = head
        self.body = body
    }

    public var status: HTTPResponse.Status { head.status }

    /// The `Content-Length` of the body.
    public var bodyLength: Int { file?.length ?? body.count }

    /// A `text/plain` response; a line feed is added to the text.
    public static func text(_ status: HTTPResponse.Status, _ text: String) -> HTTPServerResponse {
        var fields = HTTPFields()
        fields[.contentType] = "text/plain; charset=utf-8"
        return HTTPServerResponse(status: status, headerFields: fields, body: Array((text + "\n").utf8))
    }

    /// An `application/json` response from already-encoded JSON.
    public static func json(_ status: HTTPResponse.Status = .ok, _ json: String) -> HTTPServerResponse {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return HTTPServerResponse(status: status, headerFields: fields, body: Array(json.utf8))
    }

    /// A 4xx/5xx with a one-line reason in the body (what DESIGN.md §5 promises clients).
    public static func error(_ status: HTTPResponse.Status, _ reason: String) -> HTTPServerResponse {
        text(status, reason)
    }
}
