/// Something registered with a loop: a socket, a listener, the wake eventfd. Its token
/// routes readiness from the backend back to it.
protocol Channel: AnyObject {
    /// Readiness (epoll event bits; io_uring poll results use the same bits).
    func ready(_ events: UInt32)
    /// The loop is stopping: close now (flushing what can be flushed without blocking).
    func closeForLoopStop()
}
