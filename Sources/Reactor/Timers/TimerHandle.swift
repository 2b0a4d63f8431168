/// A scheduled callback on one loop. Keep it to re-arm the same timer without allocating
/// (`EventLoop.reschedule(_:at:)`); cancel it with `EventLoop.cancelTimer(_:)`.
/// Core-confined like its loop.
public final class TimerHandle {
    /// When the timer fires (meaningful while `isScheduled`).
    public internal(set) var deadline: Instant
    /// Position in the heap, -1 when not scheduled.
    var heapIndex: Int = -1
    /// Tie-breaker so timers with the same deadline fire in scheduling order.
    var sequence: UInt64 = 0
    /// What runs when the timer fires (replaceable, e.g. to let a timer re-arm itself).
    public var body: () -> Void

    init(deadline: Instant, body: @escaping () -> Void) {
        self.deadline = deadline
        self.body = body
    }

    /// True while the timer waits to fire.
    public var isScheduled: Bool { heapIndex >= 0 }
}
