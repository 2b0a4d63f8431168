import CShim
import Glibc

/// Level-triggered epoll: the token is the event's data; sockets do their own syscalls.
final class EpollBackend: ReactorBackend {
    let kind = BackendKind.epoll
    private let epfd: Int32
    private let capacity = 256
    private let events: UnsafeMutablePointer<UInt32>
    private let datas: UnsafeMutablePointer<UInt64>
    private var ready = 0

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

    func shutdown() { close(epfd) }
}
