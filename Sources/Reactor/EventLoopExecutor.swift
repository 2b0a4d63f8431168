/// A core's loop as a Swift concurrency executor: actors that return it as their
/// `unownedExecutor` run on that core (control plane only: each hop is a mailbox job, and
/// NATIVE.md measured an isolation check at ≈150 ns, so never per packet).
/// `Task(executorPreference: handle.executor)` starts a task on the core.
public final class EventLoopExecutor: SerialExecutor, TaskExecutor {
    let mailbox: Mailbox

    init(mailbox: Mailbox) { self.mailbox = mailbox }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // After the loop stopped the job is dropped (its task never resumes): running it on
        // another thread would break the actor's isolation, and trapping would turn a
        // graceful shutdown into a crash.
        _ = mailbox.post { [self] in
            job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: asUnownedTaskExecutor())
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Traps unless called on this loop's thread (backs `assumeIsolated`).
    public func checkIsolated() {
        precondition(EventLoop.current?.mailbox === mailbox, "not on this event loop's thread")
    }

    /// True on this loop's thread.
    public var isCurrent: Bool { EventLoop.current?.mailbox === mailbox }
}
