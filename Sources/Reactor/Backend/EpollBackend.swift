import CShim
import Glibc

/// Level-triggered epoll: every socket reports readiness and the kernel is called here,
/// synchronously — `recvmmsg` into a socket's receive buffers, `sendmmsg` of its queue.
final class EpollBackend: ReactorBackend {
    let kind = BackendKind.epoll
    private let epfd: Int32
    private let capacity = 256
    private let events: UnsafeMutablePointer<UInt32>
    private let datas: UnsafeMutablePointer<UInt64>
    private var ready = 0
    /// One batch for every socket of the loop: `sendmmsg` returns before the next is built.
    private let batch = DatagramBatch(capacity: UDPSocket.queueCapacity)

    init() throws(ReactorError) {
        epfd = lsfu_epoll_create()
        if epfd < 0 { throw .errno("epoll_create1") }
        events = .allocate(capacity: capacity)
        datas = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        datas.deallocate()
    }

    // MARK: readiness

    private func mask(_ readable: Bool, _ writable: Bool) -> UInt32 {
        (readable ? lsfu_EPOLLIN() | lsfu_EPOLLRDHUP() : 0) | (writable ? lsfu_EPOLLOUT() : 0)
    }

    func watch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) throws(ReactorError) {
        if lsfu_epoll_ctl(epfd, lsfu_EPOLL_CTL_ADD(), fd, mask(readable, writable), token) != 0 {
            throw .errno("epoll_ctl(ADD)")
        }
    }

    func rewatch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) {
        _ = lsfu_epoll_ctl(epfd, lsfu_EPOLL_CTL_MOD(), fd, mask(readable, writable), token)
    }

    func unwatch(fd: Int32, token: UInt64) {
        _ = lsfu_epoll_ctl(epfd, lsfu_EPOLL_CTL_DEL(), fd, 0, 0)
    }

    // MARK: datagrams

    var datagramSocketFlags: Int32 { lsfu_SOCK_NONBLOCK() }

    func startReceiving(_ socket: UDPSocket) throws(ReactorError) {
        try watch(fd: socket.fd, token: socket.token, readable: true, writable: false)
    }

    func receiveReady(_ socket: UDPSocket) {
        let count = UDPSocket.recvCount
        // Bounded rounds per wake-up so one busy socket cannot starve timers and the mailbox.
        for _ in 0..<8 {
            lsfu_mmsghdr_reset_recv(socket.recvMsgs, UInt32(count),
                                    socklen_t(MemoryLayout<sockaddr_storage>.size), socket.recvControlSpace)
            let n = Int(lsfu_recvmmsg(socket.fd, socket.recvMsgs, UInt32(count), lsfu_MSG_DONTWAIT()))
            if n <= 0 { break }
            let now = socket.loop.now
            socket.receiveBatchStarted()
            for i in 0..<n {
                socket.deliver(slot: i, length: Int(lsfu_mmsghdr_len(socket.recvMsgs, UInt32(i))),
                               flags: lsfu_mmsghdr_flags(socket.recvMsgs, UInt32(i)), now: now)
                if socket.isClosed { break }
            }
            socket.receiveBatchEnded(now: now)
            if n < count || socket.isClosed { break }
        }
    }

    func sendQueued(_ socket: UDPSocket) {
        let queue = socket.queue
        let pool = queue.pool
        while queue.pendingCount > 0 {
            _ = batch.build(queue.entries, count: queue.pendingCount, pool: pool, gso: socket.gsoEnabled)
            let r: Int
            if let injected = socket.takeInjectedFailure() {
                errno = injected
                r = -1
            } else {
                r = Int(lsfu_sendmmsg(socket.fd, batch.msgs, UInt32(batch.messages), lsfu_MSG_DONTWAIT()))
            }
            socket.loop.counters.udpSendCalls &+= 1
            if r > 0 {
                var sent = 0, segmented = 0
                for m in 0..<r {
                    sent += Int(batch.datagramsPerMessage[m])
                    if batch.segmented[m] { segmented += 1 }
                }
                var bytes = 0
                for i in 0..<sent { bytes += Int(queue.entries[i].length) }
                socket.noteSent(datagrams: sent, bytes: bytes, messages: r, gsoMessages: segmented)
                queue.release(sent)
                // A partial batch: the next call starts at the message that failed and
                // reports its error.
                continue
            }
            let e = errno
            if e == EINTR { continue }
            let first = Int(batch.datagramsPerMessage[0])
            if !socket.sendFailed(e, firstMessageSegmented: batch.segmented[0], datagrams: first) { return }
        }
    }

    func stopDatagrams(_ socket: UDPSocket) {
        unwatch(fd: socket.fd, token: socket.token)
        Glibc.close(socket.fd)
        socket.finishClose()
    }

    // MARK: the loop

    var hasPendingEvents: Bool { false }

    func wait(timeoutNanos: Int64) {
        // epoll_wait has millisecond resolution: round up so a timer is never early.
        let ms: Int32 = timeoutNanos < 0 ? -1 : Int32(min((timeoutNanos + 999_999) / 1_000_000, 60_000))
        let n = lsfu_epoll_wait(epfd, events, datas, Int32(capacity), ms)
        ready = n > 0 ? Int(n) : 0
    }

    func dispatch(to loop: EventLoop) {
        let n = ready
        ready = 0
        for i in 0..<n {
            loop.deliverReadiness(token: datas[i], events: events[i])
        }
    }

    func drain(loop: EventLoop) {}

    func shutdown() { close(epfd) }
}
