/// Which I/O backend a loop runs on.
public enum BackendKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// epoll readiness + recvmmsg/sendmmsg/read/write (default).
    case epoll
    /// io_uring: the kernel performs the UDP receives and sends (completions); TCP and the
    /// loop's own descriptors run on level-triggered polls.
    case iouring

    public var description: String { rawValue }

    /// Whether this machine lets the process use the backend (io_uring is often disabled by
    /// `kernel.io_uring_disabled` or a container's seccomp profile). Probed once.
    public var isAvailable: Bool {
        switch self {
        case .epoll: true
        case .iouring: URingBackend.probe
        }
    }

    /// The backends usable here, epoll first.
    public static var available: [BackendKind] { allCases.filter(\.isAvailable) }

    /// `LIVESFU_BACKEND=iouring` selects io_uring; anything else epoll.
    public static var fromEnvironment: BackendKind {
        if let v = getenv("LIVESFU_BACKEND"), String(cString: v) == "iouring" { return .iouring }
        return .epoll
    }
}

import Glibc

/// What a loop and its channels need from the kernel, one implementation per backend
/// (`EpollBackend`, `URingBackend`), in the way of SwiftNIO's selector split. Channels say
/// what they need — readiness of a socket, a receive batch into their buffers, their queue of
/// datagrams sent — and never learn which backend runs.
///
/// Readiness is level-triggered on both backends (io_uring re-arms a one-shot poll after each
/// event), so TCP listeners and connections do their own non-blocking syscalls on either; the
/// media path (UDP receives and sends) is where io_uring performs the I/O itself.
///
/// Cost: one protocol call per receive batch and per flush, never per datagram.
protocol ReactorBackend: AnyObject {
    var kind: BackendKind { get }

    // MARK: readiness (TCP, the mailbox eventfd, a signalfd, UDP on epoll)

    /// Reports `fd`'s readiness to the channel `token` while it lasts (level-triggered);
    /// errors and hang-ups are always reported, whatever is asked.
    func watch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) throws(ReactorError)
    func rewatch(fd: Int32, token: UInt64, readable: Bool, writable: Bool)
    func unwatch(fd: Int32, token: UInt64)

    // MARK: datagrams

    /// Flags for `socket(2)` of a UDP socket this backend serves (non-blocking for epoll).
    var datagramSocketFlags: Int32 { get }
    /// Starts delivering what `socket` receives (`UDPSocket.deliver`, then `receiveBatchEnded`).
    func startReceiving(_ socket: UDPSocket) throws(ReactorError)
    /// epoll: the socket is readable, receive a bounded number of batches now.
    func receiveReady(_ socket: UDPSocket)
    /// Hands as much of `socket.queue` to the kernel as it takes now; what it refuses stays
    /// queued (the socket retries next turn, and drops after a bounded stall).
    func sendQueued(_ socket: UDPSocket)
    /// The socket closed: stop its I/O and, once the kernel holds none of its buffers,
    /// close the descriptor and call `socket.finishClose()`.
    func stopDatagrams(_ socket: UDPSocket)

    // MARK: the loop

    /// Whether completions are waiting that `wait` must not sleep over.
    var hasPendingEvents: Bool { get }
    /// Blocks up to `timeoutNanos` (negative: no limit, 0: just look) collecting events.
    func wait(timeoutNanos: Int64)
    /// Delivers what `wait` collected.
    func dispatch(to loop: EventLoop)
    /// At loop stop, after every channel closed: waits (bounded) until the kernel holds no
    /// buffer of this loop.
    func drain(loop: EventLoop)
    /// Frees kernel resources; called once after `drain`.
    func shutdown()
}
