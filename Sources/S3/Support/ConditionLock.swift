import Glibc

/// A pthread mutex with one condition variable whose timed waits run on CLOCK_MONOTONIC (a
/// wall-clock step neither shortens nor stretches a back-off). The upload workers block here
/// between jobs and during back-off, so nothing busy-waits.
///
/// `@unchecked Sendable`: the mutex and condition live at fixed heap addresses for the
/// object's life, and pthread makes them safe to use from any thread.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` holding the mutex.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the mutex held by the caller, inside `withLock`) until signalled.
    func wait() {
        pthread_cond_wait(condition, mutex)
    }

    /// Waits (inside `withLock`) until signalled or until the monotonic clock reaches
    /// `deadline` (nanoseconds, `MonotonicTime.now`); false when the deadline passed.
    @discardableResult
    func wait(untilNanoseconds deadline: Int64) -> Bool {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        return pthread_cond_timedwait(condition, mutex, &ts) != ETIMEDOUT
    }

    /// Wakes every waiter.
    func broadcast() {
        pthread_cond_broadcast(condition)
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `ConditionLock`'s timed waits.
enum MonotonicTime {
    static var now: Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// `now + duration`, saturating.
    static func after(_ duration: Duration) -> Int64 {
        let (result, overflow) = now.addingReportingOverflow(duration.nanoseconds)
        return overflow ? Int64.max : result
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at Int64's bounds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? Int64.min : Int64.max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? Int64.min : Int64.max) : sum
    }

    /// Whole milliseconds (rounded down), saturating; for libcurl's `_MS` options.
    var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
