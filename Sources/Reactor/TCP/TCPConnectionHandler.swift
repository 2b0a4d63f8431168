/// Gets a TCP connection's events, on its loop.
public protocol TCPConnectionHandler: AnyObject {
    /// Bytes read from the peer; valid only during the call.
    func received(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection)
    /// The write queue drained below the low watermark after being above the high one.
    func writable(_ connection: TCPConnection)
    /// The connection is closed (by either side, or aborted); called exactly once.
    func closed(_ connection: TCPConnection)
}

/// Write-queue bounds of a TCP connection.
public struct TCPLimits: Sendable {
    /// Above this many queued bytes `isWriteBufferFull` is true (back-pressure).
    public var highWatermark: Int
    /// `writable` is called when the queue drains below this after passing the high mark.
    public var lowWatermark: Int
    /// Above this the connection is aborted and counted (a peer that stopped reading).
    public var hardCap: Int
    /// A connection whose queued bytes have not moved for this long is aborted and counted,
    /// also while it is closing (a peer that stopped reading would otherwise hold the socket
    /// and its queue forever). Nil: no limit.
    public var writeStallTimeout: Duration?

    public init(
        highWatermark: Int = 256 * 1024, lowWatermark: Int = 64 * 1024, hardCap: Int = 8 * 1024 * 1024,
        writeStallTimeout: Duration? = .seconds(60)
    ) {
        precondition(lowWatermark <= highWatermark && highWatermark <= hardCap)
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.hardCap = hardCap
        self.writeStallTimeout = writeStallTimeout
    }
}
