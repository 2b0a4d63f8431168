import Telemetry
import HTTPTypes
import Reactor

/// A request as handlers see it: the parsed request plus what routing and the middleware
/// found out. `Sendable`, so it can be handed to the core that owns a room.
public struct HTTPServerRequest: Sendable {
    public var head: HTTPRequest
    public var body: [UInt8]
    /// The path without the query, still percent-encoded (`/api/whip/publish/my%20room`).
    public var path: String
    /// The query without its `?`, if any.
    public var query: Substring?
    /// Values of the route's `:name` and `*name` segments, percent-decoded.
    public var pathParameters: [String: String]
    /// The route pattern that matched (`/api/whip/publish/:room`), for metrics and logs.
    public var routeName: String
    public var remoteAddress: SocketAddress?
    public var coreIndex: Int
    /// When the request's last byte arrived.
    public var receivedAt: Instant
    /// Who the authenticator let in (nil for open routes).
    public var identity: AuthIdentity?
    /// This request's span when tracing is on (`OTEL_EXPORTER_OTLP_ENDPOINT`): a session made
    /// by it is a child span in the same trace.
    public var trace: TraceContext?
    /// Unix time the request's span started (its session span starts there too).
    public var traceStartUnixNanos: UInt64 = 0

    public init(
        head: HTTPRequest, body: [UInt8] = [], remoteAddress: SocketAddress? = nil, coreIndex: Int = 0,
        receivedAt: Instant = Instant(nanoseconds: 0)
    ) {
        self.head = head
        self.body = body
        let target = head.path ?? "/"
        if let q = target.firstIndex(of: "?") {
            self.path = String(target[..<q])
            self.query = target[target.index(after: q)...]
        } else {
            self.path = target
            self.query = nil
        }
        self.pathParameters = [:]
        self.routeName = "unmatched"
        self.remoteAddress = remoteAddress
        self.coreIndex = coreIndex
        self.receivedAt = receivedAt
        self.identity = nil
    }

    /// A field value by name.
    public subscript(field name: HTTPField.Name) -> String? { head.headerFields[name] }
}
