/// The Sendable face of an `EventLoop`: other threads post work to it. This is the only
/// cross-core path; jobs run on the loop's thread at the start of its next turn.
public struct EventLoopHandle: Sendable, Hashable {
    let mailbox: Mailbox
    /// The loop's core index.
    public let index: Int
    /// The loop as a serial/task executor for actors and tasks pinned to this core.
    public let executor: EventLoopExecutor

    init(mailbox: Mailbox, index: Int) {
        self.mailbox = mailbox
        self.index = index
        executor = EventLoopExecutor(mailbox: mailbox)
    }

    /// Runs `job` on the loop (where `EventLoop.current` is that loop). Returns false if the
    /// loop has stopped and the job was dropped.
    @discardableResult
    public func execute(_ job: @escaping @Sendable () -> Void) -> Bool {
        mailbox.post(job)
    }

    /// Runs `job` on the loop with the loop as argument.
    @discardableResult
    public func execute(_ job: @escaping @Sendable (EventLoop) -> Void) -> Bool {
        mailbox.post {
            if let loop = EventLoop.current { job(loop) }
        }
    }

    /// Asks the loop to stop gracefully (from any thread).
    public func stop() {
        _ = mailbox.post { EventLoop.current?.stop() }
    }

    public static func == (a: EventLoopHandle, b: EventLoopHandle) -> Bool { a.mailbox === b.mailbox }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(mailbox)) }
}
