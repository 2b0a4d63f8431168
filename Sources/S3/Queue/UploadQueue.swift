import Glibc
import Reactor
import Synchronization

/// Uploads files to one bucket on a fixed number of worker threads of its own, so at most
/// `concurrency` uploads run at once and none runs on a media core. Jobs wait in a bounded
/// FIFO; workers sleep on a condition variable when there is none. Each worker has its own
/// `S3Client` (one libcurl handle, one kept-alive connection).
///
/// `@unchecked Sendable`: the mutable state (`pending`, `head`, `running`, `accepting`,
/// `threads`, `returned`) is only touched holding `lock`; the counters are atomics.
public final class UploadQueue: @unchecked Sendable {
    public enum EnqueueResult: Sendable, Equatable {
        case accepted
        /// `capacity` jobs already wait.
        case full
        /// `shutdown` was called.
        case shuttingDown
    }

    public let configuration: S3Configuration
    public let retryPolicy: RetryPolicy
    public let concurrency: Int
    /// Waiting jobs at most.
    public let capacity: Int

    private let onEvent: @Sendable (UploadEvent) -> Void
    private let control = UploadControl()
    private let lock = ConditionLock()
    private var pending: [(job: UploadJob, enqueuedAt: Int64)] = []
    /// Index of the first waiting job in `pending` (taken jobs are dropped in batches).
    private var head = 0
    private var running = 0
    private var accepting = true
    private var threads: [OSThread] = []
    /// Interrupted jobs, handed back by `shutdown`.
    private var returned: [UploadJob] = []

    private let uploadedCount = Atomic<Int>(0)
    private let failedCount = Atomic<Int>(0)
    private let interruptedCount = Atomic<Int>(0)
    private let retryCount = Atomic<Int>(0)

    /// Starts `concurrency` workers. `onEvent` is called on a worker thread for each event
    /// of each job (see `UploadEvent`).
    public init(
        configuration: S3Configuration, retryPolicy: RetryPolicy = RetryPolicy(), concurrency: Int = 2, capacity: Int = 10_000,
        onEvent: @escaping @Sendable (UploadEvent) -> Void
    ) throws(S3Error) {
        precondition(concurrency >= 1 && capacity >= 1, "at least one worker and one waiting job")
        try configuration.validate()
        self.configuration = configuration
        self.retryPolicy = retryPolicy
        self.concurrency = concurrency
        self.capacity = capacity
        self.onEvent = onEvent
        for _ in 0..<concurrency {
            do {
                let thread = try OSThread.spawn { [self] in work() }
                lock.withLock { threads.append(thread) }
            } catch {
                _ = shutdown(gracePeriod: .zero)
                if case .system(let call, let code) = error { throw .system(call: call, errno: code) }
                throw .system(call: "pthread_create", errno: 0)
            }
        }
    }

    /// Queues `job` behind the others.
    public func enqueue(_ job: UploadJob) -> EnqueueResult {
        lock.withLock {
            guard accepting else { return .shuttingDown }
            guard pending.count - head < capacity else { return .full }
            pending.append((job, MonotonicTime.now))
            lock.broadcast()
            return .accepted
        }
    }

    /// The figures now; takes the queue's lock only to read three values.
    public var counters: UploadCounters {
        var counters = UploadCounters()
        counters.uploaded = uploadedCount.load(ordering: .relaxed)
        counters.failed = failedCount.load(ordering: .relaxed)
        counters.interrupted = interruptedCount.load(ordering: .relaxed)
        counters.retries = retryCount.load(ordering: .relaxed)
        let oldest: Int64? = lock.withLock {
            counters.queued = pending.count - head
            counters.running = running
            return head < pending.count ? pending[head].enqueuedAt : nil
        }
        if let oldest { counters.oldestQueuedAge = .nanoseconds(max(0, MonotonicTime.now - oldest)) }
        return counters
    }

    /// Stops taking jobs and ends the workers: jobs that have not started are not started;
    /// running ones go on until `gracePeriod` has passed but stop at their next retry point
    /// (a multipart upload is then aborted); past `gracePeriod` their transfers are cut off
    /// (within about a second: libcurl's progress callback). Returns the jobs that did not
    /// end (never started, then interrupted), for the owner to keep for a later start.
    /// Calls after the first return nothing.
    @discardableResult
    public func shutdown(gracePeriod: Swift.Duration) -> [UploadJob] {
        let deadline = MonotonicTime.after(gracePeriod)
        let (notStarted, workers): ([UploadJob], [OSThread]) = lock.withLock {
            guard accepting || !threads.isEmpty else { return ([], []) }
            accepting = false
            let waiting = pending[head...].map(\.job)
            pending.removeAll()
            head = 0
            let workers = threads
            threads.removeAll()
            lock.broadcast()
            return (waiting, workers)
        }
        control.requestStop()
        let finished = lock.withLock {
            while running > 0 {
                if !lock.wait(untilNanoseconds: deadline), MonotonicTime.now >= deadline { break }
            }
            return running == 0
        }
        if !finished { control.abortTransfers() }
        for worker in workers { worker.join() }
        return notStarted + lock.withLock { () -> [UploadJob] in
            defer { returned.removeAll() }
            return returned
        }
    }

    /// A worker: takes jobs until the queue shuts down.
    private func work() {
        // A peer that closes mid-request must end in EPIPE, not kill the process.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let client = S3Client(configuration: configuration, retryPolicy: retryPolicy, control: control)
        while let job = next() {
            let key = configuration.objectKey(for: job.key)
            onEvent(.started(job, objectKey: key))
            let event: UploadEvent
            do throws(S3Error) {
                let info = try client.upload(path: job.path, key: key, contentType: job.contentType) { notice in
                    retryCount.add(1, ordering: .relaxed)
                    onEvent(.retrying(job, notice))
                }
                uploadedCount.add(1, ordering: .relaxed)
                event = .uploaded(job, objectKey: key, size: info.size, etag: info.etag)
            } catch .interrupted {
                interruptedCount.add(1, ordering: .relaxed)
                lock.withLock { returned.append(job) }
                event = .interrupted(job)
            } catch {
                failedCount.add(1, ordering: .relaxed)
                event = .failed(job, error: error)
            }
            onEvent(event)
            lock.withLock {
                running -= 1
                lock.broadcast()
            }
        }
    }

    /// The next job, waiting for one; nil once the queue shuts down.
    private func next() -> UploadJob? {
        lock.withLock {
            while accepting && head == pending.count { lock.wait() }
            guard accepting, head < pending.count else { return nil }
            let job = pending[head].job
            head += 1
            // Drop taken entries once they are half the array, so memory follows the queue.
            if head >= 64 && head * 2 >= pending.count {
                pending.removeFirst(head)
                head = 0
            }
            running += 1
            return job
        }
    }
}
