/// The Reactor module: one pinned event loop per core (epoll or io_uring), batched UDP,
/// TCP, timers, a cross-core mailbox and a per-core buffer pool.
///
/// How the pieces fit (DESIGN.md §1):
/// - `ReactorGroup(cores:backend:handleSignals:setup:)` starts one pinned thread per core;
///   `setup` runs on each core's own thread with its `EventLoop`, where the application opens
///   its sockets (`openUDP`, `listenTCP`) and hangs its per-core state on `loop.context`.
///   `group.wait()` returns after `group.stop()` or SIGINT/SIGTERM (with `handleSignals`).
/// - Everything an `EventLoop` owns is core-confined (not Sendable); debug builds check it at
///   the public entry points (`assertOnLoop()`). Other threads reach a core only through its
///   `EventLoopHandle.execute { }` (the mailbox) or its `EventLoopHandle.executor` (actors and
///   tasks pinned to the core).
/// - Backends: `ReactorBackend` (`EpollBackend`, `URingBackend`) does the kernel calls;
///   channels say what they need and never know which backend runs.
/// - Protocol code never reads a clock: callbacks get `now` (the loop's cached `Instant`).
/// - Timers: `scheduleTimer(at:)` returns a `TimerHandle` to `reschedule(_:at:)` (no
///   allocation) or `cancelTimer(_:)`.
/// - UDP: datagrams arrive in batches at a `UDPReceiver`; `UDPSocket.send(to:capacity:)`
///   (its `DatagramQueue`) writes straight into a pooled slot and the queue is flushed once per loop turn
///   (`sendmmsg`, GSO for runs of equal sizes to one destination). No heap allocation per
///   datagram on either backend (perf/RESULTS-reactor.md).
/// - TCP: `TCPConnectionHandler` gets bytes, `writable` (back-pressure released) and
///   `closed` exactly once; `TCPConnection.isWriteBufferFull` is the back-pressure signal.
/// - Counters: `loop.counters` (plain integers), summed across cores by
///   `ReactorGroup.collectCounters`.
public enum ReactorInfo {
    public static let name = "Reactor"
}
