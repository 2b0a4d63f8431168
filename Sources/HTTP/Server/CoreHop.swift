/// Runs `async` work away from a core's loop and delivers the result back on that core.
/// The HTTP layer needs it for jwt-kit's `async` verification; the rooms can use it for any
/// `await` that must come back to the connection's core.
public protocol CoreHop: AnyObject {
    /// Starts `work`; `then` runs later on the calling core with its result (never inline).
    func run<T: Sendable>(_ work: @escaping @Sendable () async -> T, then: @escaping (T) -> Void)
}

/// A `CoreHop` over a mailbox: `work` runs in a Task (Swift's global executor, off the
/// core's loop), and its result is posted back with `post` (the core's
/// `EventLoopHandle.execute`). The continuation stays in a table owned by the core; only an
/// integer ticket and the `Sendable` result cross threads.
public final class MailboxCoreHop: CoreHop {
    private let post: @Sendable (@escaping @Sendable () -> Void) -> Void
    private var continuations: [UInt64: (any Sendable) -> Void] = [:]
    private var nextTicket: UInt64 = 0

    /// - Parameter post: enqueues a closure on this core's loop (its mailbox).
    public init(post: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void) {
        self.post = post
    }

    public func run<T: Sendable>(_ work: @escaping @Sendable () async -> T, then: @escaping (T) -> Void) {
        let ticket = nextTicket
        nextTicket += 1
        continuations[ticket] = { value in
            if let typed = value as? T { then(typed) }
        }
        let owner = CoreBound(self)
        let post = self.post
        Task {
            let result = await work()
            post {
                owner.value?.resume(ticket, result)
            }
        }
    }

    private func resume(_ ticket: UInt64, _ value: any Sendable) {
        guard let continuation = continuations.removeValue(forKey: ticket) else { return }
        continuation(value)
    }

    /// Continuations waiting for their result (tests, metrics).
    public var pendingCount: Int { continuations.count }
}
