import Glibc
import Reactor
import Synchronization

/// A few threads that run the blocking HTTP requests (offers, DELETEs) so that no event
/// loop ever waits on the server's HTTP side.
final class SignallingPool: Sendable {
    let client: HTTPClient
    private let queue = Mutex<[@Sendable () -> Void]>([])
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let wakeups: Semaphore
    private let threads = Mutex<[OSThread]>([])
    let threadCount: Int
    /// DELETE requests answered 2xx, and the others (error status or no answer).
    let deletesOK = Atomic<Int>(0)
    let deletesFailed = Atomic<Int>(0)
    /// Layer requests (`--spread-layers`) answered 2xx, the others, and the first failure.
    let layerRequestsOK = Atomic<Int>(0)
    let layerRequestsFailed = Atomic<Int>(0)
    private let layerFailure = Mutex<String?>(nil)
    var firstLayerFailure: String? { layerFailure.withLock { $0 } }

    func noteLayerFailure(_ reason: String) {
        layerRequestsFailed.add(1, ordering: .relaxed)
        layerFailure.withLock { if $0 == nil { $0 = reason } }
    }

    /// A counting semaphore. `@unchecked Sendable`: `sem_t` is made for sharing between
    /// threads, and the pointer is a `let` freed only in `deinit`.
    final class Semaphore: @unchecked Sendable {
        let s: UnsafeMutablePointer<sem_t>
        init() {
            s = .allocate(capacity: 1)
            sem_init(s, 0, 0)
        }
        deinit {
            sem_destroy(s)
            s.deallocate()
        }
        func post() { sem_post(s) }
        func wait() { while sem_wait(s) != 0 && errno == EINTR {} }
    }

    init(threads n: Int, client: HTTPClient) throws {
        self.client = client
        threadCount = max(1, n)
        wakeups = Semaphore()
        var started: [OSThread] = []
        for _ in 0..<threadCount {
            started.append(try OSThread.spawn { [self] in self.work() })
        }
        threads.withLock { $0 = started }
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        pending.add(1, ordering: .relaxed)
        queue.withLock { $0.append(job) }
        wakeups.post()
    }

    /// Jobs submitted and not finished.
    var outstanding: Int { pending.load(ordering: .relaxed) }

    private func work() {
        while true {
            wakeups.wait()
            if stopping.load(ordering: .relaxed) && queue.withLock({ $0.isEmpty }) { return }
            let job = queue.withLock { q -> (@Sendable () -> Void)? in q.isEmpty ? nil : q.removeFirst() }
            if let job {
                job()
                pending.subtract(1, ordering: .relaxed)
            }
        }
    }

    /// Waits until every submitted job finished, or `seconds` passed; returns whether idle.
    @discardableResult
    func waitIdle(seconds: Double) -> Bool {
        let deadline = Instant.now() + Duration(nanoseconds: UInt64(seconds * 1e9))
        while outstanding > 0 {
            if Instant.now() >= deadline { return false }
            usleep(2000)
        }
        return true
    }

    func shutdown() {
        stopping.store(true, ordering: .relaxed)
        for _ in 0..<threadCount { wakeups.post() }
        let ts = threads.withLock { t -> [OSThread] in
            let all = t
            t = []
            return all
        }
        for t in ts { t.join() }
    }
}
