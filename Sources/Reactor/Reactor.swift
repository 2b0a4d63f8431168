/// The Reactor module: one pinned event loop per core (epoll or io_uring), batched UDP,
/// TCP, timers, a cross-core mailbox and a per-core buffer pool.
public enum ReactorInfo {
    public static let name = "Reactor"
}
