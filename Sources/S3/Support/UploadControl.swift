import Synchronization

/// How an owner stops uploads in progress. A soft stop ends an upload at its next retry
/// point (instead of backing off); an abort also makes libcurl give up the transfer under
/// way (its progress callback polls `abortRequested`). Shared by every worker of a queue.
public final class UploadControl: Sendable {
    private let lock = ConditionLock()
    /// Written under `lock` (so sleepers cannot miss the wake-up), read anywhere.
    private let stopping = Atomic<Bool>(false)
    private let aborting = Atomic<Bool>(false)

    public init() {}

    /// Uploads stop at their next retry point; back-off sleeps end now.
    public func requestStop() {
        lock.withLock {
            stopping.store(true, ordering: .releasing)
            lock.broadcast()
        }
    }

    /// `requestStop`, and transfers under way are cut off.
    public func abortTransfers() {
        aborting.store(true, ordering: .releasing)
        requestStop()
    }

    public var stopRequested: Bool { stopping.load(ordering: .acquiring) }
    public var abortRequested: Bool { aborting.load(ordering: .acquiring) }

    /// Sleeps for `duration` unless a stop is requested first; false if it was.
    func sleep(for duration: Duration) -> Bool {
        let deadline = MonotonicTime.after(duration)
        return lock.withLock {
            while !stopping.load(ordering: .acquiring) {
                if !lock.wait(untilNanoseconds: deadline), MonotonicTime.now >= deadline { return true }
            }
            return false
        }
    }
}
