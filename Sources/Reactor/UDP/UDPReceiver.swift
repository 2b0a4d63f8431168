/// Gets the datagrams a `UDPSocket` receives, on the socket's loop.
public protocol UDPReceiver: AnyObject {
    /// One datagram; the bytes are mutable so SRTP can be unprotected in place; valid only during the call.
    func received(_ datagram: UnsafeMutableRawBufferPointer, from: SocketAddress, on socket: UDPSocket, now: Instant)
    /// Called once after each receive batch (a good point to flush work).
    func batchEnded(on socket: UDPSocket, now: Instant)
}
