import Glibc

/// How busy a core is, smoothed: the share of wall time its event loop spent working rather
/// than waiting in epoll/io_uring, averaged exponentially over about `timeConstant`.
/// Admission control reads it on the core that owns it (a saturated core refuses new
/// sessions rather than letting every session on it fall behind).
///
/// Sans-IO: fed the busy and waiting nanoseconds of each loop turn (or of any span) with
/// `now`; no clock, no lock, no allocation. Turns are summed into sample periods of at least
/// `samplePeriod`, and each period folds into the average with the weight of its length
/// (`1 - exp(-length / timeConstant)`), so the average follows wall time whatever the
/// lengths of the turns: a run of short turns and one long turn of the same total weigh alike.
public struct CoreLoadEstimator: Sendable {
    /// How long the average remembers: a step change is 63 % through after this.
    public let timeConstant: Duration
    /// Turns are summed for at least this long before they move the average.
    public let samplePeriod: Duration
    /// The smoothed busy fraction (0…1). Starts at 0 (idle) and rises with the load, so a
    /// core just started admits sessions.
    public private(set) var busyFraction: Double = 0
    /// The busy fraction of the last completed sample period alone.
    public private(set) var lastSample: Double = 0
    /// Sample periods folded so far.
    public private(set) var samples = 0

    private var busy: UInt64 = 0
    private var waiting: UInt64 = 0
    private var periodStart: Instant?

    public init(timeConstant: Duration = .seconds(1), samplePeriod: Duration = .milliseconds(100)) {
        precondition(timeConstant.nanoseconds > 0, "the time constant must be positive")
        self.timeConstant = timeConstant
        self.samplePeriod = samplePeriod
    }

    /// Adds one span (a loop turn): `busyNanoseconds` working, `waitNanoseconds` blocked in
    /// the backend's wait, ending at `now`.
    public mutating func record(busyNanoseconds: UInt64, waitNanoseconds: UInt64, now: Instant) {
        busy &+= busyNanoseconds
        waiting &+= waitNanoseconds
        guard let start = periodStart else {
            // The first span has no start of its own: the period begins where it began.
            periodStart = Instant(nanoseconds: now.nanoseconds &- min(now.nanoseconds, busy &+ waiting))
            return fold(now: now)
        }
        if now - start >= samplePeriod { fold(now: now) }
    }

    private mutating func fold(now: Instant) {
        let total = busy &+ waiting
        guard total > 0, let start = periodStart, now - start >= samplePeriod else { return }
        let sample = Double(busy) / Double(total)
        // The span's length in wall time; the loop's own sum when the clock says less (a
        // caller feeding spans ahead of `now`).
        let length = Double(max((now - start).nanoseconds, total))
        let weight = 1 - exp(-length / Double(timeConstant.nanoseconds))
        busyFraction += weight * (sample - busyFraction)
        lastSample = sample
        samples &+= 1
        busy = 0
        waiting = 0
        periodStart = now
    }
}
