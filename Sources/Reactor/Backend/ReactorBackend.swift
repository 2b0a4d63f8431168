/// Which I/O backend a loop runs on.
public enum BackendKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// epoll readiness + recvmmsg/sendmmsg/read/write (default).
    case epoll
    /// io_uring completions: the kernel does the receives, sends, accepts and connects.
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

/// What a loop needs from its backend: readiness watches (every socket on epoll; only the
/// loop's own eventfd/signalfd and pending connects on io_uring) and a wait that collects
/// events, then hands them to the loop. io_uring's I/O operations live on `URingBackend`
/// itself; channels call them directly when the loop runs on it.
protocol ReactorBackend: AnyObject {
    var kind: BackendKind { get }
    func watch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) throws(ReactorError)
    func rewatch(fd: Int32, token: UInt64, readable: Bool, writable: Bool)
    func unwatch(fd: Int32, token: UInt64)
    /// Blocks up to `timeoutNanos` (negative: no limit, 0: just look) collecting events.
    func wait(timeoutNanos: Int64)
    /// Delivers what `wait` collected.
    func dispatch(to loop: EventLoop)
    /// Frees kernel resources; called once after every channel closed.
    func shutdown()
}
