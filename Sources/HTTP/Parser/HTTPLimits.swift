import Reactor

/// The limits an HTTP/1.1 connection enforces on its peer. Every limit turns into a precise
/// answer rather than unbounded memory or a stuck core: an over-long request line is a 414,
/// an over-large header section a 431, an over-large body a 413 (decided from the declared
/// `Content-Length` alone, so a 1 GB body is refused before one body byte is read), a client
/// that is too slow to send its request a 408, an idle keep-alive connection is closed, and a
/// client that stops reading is held to a small output buffer, then cut off.
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
    /// Time a keep-alive connection may sit with no request before it is closed; also the
    /// time its queued output may go without moving (a client that stopped reading) before
    /// the connection is aborted, whether or not it is closing.
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
    /// Output queued for one connection (answers not yet taken by the socket, plus the
    /// socket's own queue) above which no further request is parsed and no more is handed to
    /// the socket until the client has read some of it. A client that pipelines many requests
    /// and never reads thus holds at most this, one answer being written, and the parser's
    /// buffer. The socket's queue drains to a quarter of it before more is handed over.
    public var outputHighWatermark: Int = 64 * 1024
    /// Hard cap on one connection's socket write queue (output is handed over in pieces of
    /// `outputHighWatermark`, so only a fault reaches it); past it the connection is aborted.
    public var maxQueuedOutputBytes: Int = 256 * 1024
    /// After an early error answer (413, 431, 400, 408...) the connection sends its FIN and
    /// keeps reading and discarding for at most this long, so a client still sending its
    /// body sees the answer instead of a reset.
    public var lingerTimeout: Duration = .seconds(2)
    /// ... and for at most this many discarded bytes.
    public var lingerMaxBytes: Int = 8 * 1024 * 1024

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

extension HTTPLimits {
    /// The socket's write-queue bounds for an HTTP connection.
    public var tcpLimits: TCPLimits {
        TCPLimits(
            highWatermark: outputHighWatermark, lowWatermark: outputHighWatermark / 4,
            hardCap: max(maxQueuedOutputBytes, outputHighWatermark), writeStallTimeout: idleTimeout)
    }

    /// The lingering close after an early error answer.
    public var linger: TCPConnection.Linger { TCPConnection.Linger(timeout: lingerTimeout, maxBytes: lingerMaxBytes) }
}
