import Reactor

/// The limits an HTTP/1.1 connection enforces on its peer. Every limit turns into a precise
/// answer rather than unbounded memory or a stuck core: an over-long request line is a 414,
/// an over-large header section a 431, an over-large body a 413 (decided from the declared
/// `Content-Length` alone, so a 1 GB body is refused before one body byte is read), a client
/// that is too slow to send its request a 408, an idle keep-alive connection is closed.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (method, target, version, without CRLF); longer → 414.
    public var maxRequestLineBytes: Int
    /// Largest header section (all field lines with their CRLFs, without the request line);
    /// larger → 431.
    public var maxHeaderBytes: Int
    /// Most header field lines in one request; more → 431.
    public var maxHeaderCount: Int
    /// Largest request body; a larger `Content-Length` → 413 (SDP offers are < 64 KB).
    public var maxBodyBytes: Int
    /// Time a client has to deliver a whole request (head and body) once its first byte
    /// arrived, and for a fresh connection to deliver its first byte; exceeded → 408 and close
    /// (or a silent close when nothing was received).
    public var headerTimeout: Duration
    /// Time a keep-alive connection may sit with no request before it is closed.
    public var idleTimeout: Duration
    /// Connections one core accepts at most; the server refuses more (the Reactor's
    /// `maxConnections`).
    public var maxConnectionsPerCore: Int
    /// Time a handler has to answer a request it took (a room's core that never answers, a
    /// JWT check that hangs); exceeded → 503 for that request, and a late answer is dropped.
    public var handlerTimeout: Duration
    /// Requests of one connection being handled or answered at once (pipelining depth);
    /// the connection stops reading beyond it, which pushes back on the client.
    public var maxPipelinedRequests: Int

    public init(
        maxRequestLineBytes: Int = 8 * 1024,
        maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 64 * 1024,
        headerTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxConnectionsPerCore: Int = 10_000,
        handlerTimeout: Duration = .seconds(15),
        maxPipelinedRequests: Int = 16
    ) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnectionsPerCore = maxConnectionsPerCore
        self.handlerTimeout = handlerTimeout
        self.maxPipelinedRequests = maxPipelinedRequests
    }
}
