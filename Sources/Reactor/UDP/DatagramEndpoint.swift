/// Sans-IO code that takes datagrams: bytes, their source and the time in; what it sends goes
/// into a `DatagramQueue` it was given. It names no socket, so the same object runs on a
/// core's UDP socket (`EventLoop.openUDP(bind:endpoint:queue:)`) or under a simulation that
/// hands it datagrams on a virtual clock and drains its queue.
public protocol DatagramEndpoint: AnyObject {
    /// One datagram; mutable so SRTP can be unprotected in place; valid only during the call.
    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant)
    /// The datagrams received together so far have all been handed over (a point to flush work).
    func batchEnded(now: Instant)
}

/// Connects a socket to a `DatagramEndpoint`: the thin adapter between the Reactor's I/O and
/// sans-IO code.
final class EndpointReceiver: UDPReceiver {
    unowned let endpoint: any DatagramEndpoint

    init(_ endpoint: any DatagramEndpoint) { self.endpoint = endpoint }

    @inline(__always)
    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, on socket: UDPSocket, now: Instant) {
        endpoint.received(datagram, from: source, now: now)
    }

    func batchEnded(on socket: UDPSocket, now: Instant) { endpoint.batchEnded(now: now) }
}

extension EventLoop {
    /// Opens a UDP socket bound to `bind` that hands its datagrams to `endpoint` and sends
    /// what `endpoint` puts in `queue` (made over this loop's `pool`) at the end of each turn.
    /// The socket holds the endpoint unowned: its owner keeps it alive.
    public func openUDP(
        bind: SocketAddress, endpoint: any DatagramEndpoint, queue: DatagramQueue, gro: Bool = false,
        timestamps: Bool = false
    ) throws(ReactorError) -> UDPSocket {
        precondition(queue.pool === pool, "the queue's slots must come from the loop's pool")
        assertOnLoop()
        let s = try UDPSocket(
            loop: self, bind: bind, receiver: EndpointReceiver(endpoint), gro: gro, reusePort: false,
            timestamps: timestamps, queue: queue)
        try s.start()
        return s
    }

    /// A send queue for an endpoint, over this loop's pool, sized as a socket's own.
    public func makeDatagramQueue() -> DatagramQueue {
        DatagramQueue(pool: pool, capacity: UDPSocket.queueCapacity)
    }
}
