/// Something registered with a loop: a socket, a listener, the wake eventfd. Its token
/// routes epoll events and io_uring completions back to it.
protocol Channel: AnyObject {
    /// Readiness: epoll events, or the poll mask of an io_uring poll completion.
    func ready(_ events: UInt32)
    /// An io_uring operation this channel submitted finished.
    func completed(op: UInt8, arg: UInt16, result: Int32, flags: UInt32)
    /// The loop is stopping: close now (flushing what can be flushed without blocking).
    func closeForLoopStop()
}
