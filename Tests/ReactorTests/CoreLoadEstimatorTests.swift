import Testing

@testable import Reactor

/// The estimator on a virtual clock: loop turns are fed as (busy, waiting) spans ending at
/// `now`, so the figures are exact and nothing depends on the machine.
@Suite("Core load estimator")
struct CoreLoadEstimatorTests {
    /// Feeds `seconds` of turns of `turn` each, busy for `fraction` of every turn.
    func run(
        _ e: inout CoreLoadEstimator, clock: inout Instant, seconds: Double, fraction: Double,
        turn: Duration = .milliseconds(1)
    ) {
        let turns = Int((seconds * 1e9 / Double(turn.nanoseconds)).rounded())
        let busy = UInt64((Double(turn.nanoseconds) * fraction).rounded())
        for _ in 0..<turns {
            clock = clock + turn
            e.record(busyNanoseconds: busy, waitNanoseconds: turn.nanoseconds - busy, now: clock)
        }
    }

    @Test("an idle loop reads 0, and a fresh estimator starts at 0")
    func idle() {
        var e = CoreLoadEstimator()
        #expect(e.busyFraction == 0)
        var clock = Instant(nanoseconds: 1_000_000_000)
        run(&e, clock: &clock, seconds: 5, fraction: 0)
        #expect(e.busyFraction == 0)
        #expect(e.samples == 50, "one sample per 100 ms period")
    }

    @Test("a saturated loop approaches 1: 63 % after one time constant, above 0.95 after three")
    func saturated() {
        var e = CoreLoadEstimator(timeConstant: .seconds(1))
        var clock = Instant(nanoseconds: 1_000_000_000)
        run(&e, clock: &clock, seconds: 1, fraction: 1)
        #expect(abs(e.busyFraction - (1 - 0.367_879)) < 0.01)
        run(&e, clock: &clock, seconds: 2, fraction: 1)
        #expect(e.busyFraction > 0.95)
        #expect(e.busyFraction <= 1)
        #expect(e.lastSample == 1)
    }

    @Test("a steady partial load converges to its busy fraction")
    func steady() {
        var e = CoreLoadEstimator()
        var clock = Instant(nanoseconds: 0)
        run(&e, clock: &clock, seconds: 10, fraction: 0.6)
        #expect(abs(e.busyFraction - 0.6) < 0.001)
    }

    @Test("after saturation the estimate recovers: below half in one time constant when the load stops")
    func recovery() {
        var e = CoreLoadEstimator(timeConstant: .seconds(1))
        var clock = Instant(nanoseconds: 0)
        run(&e, clock: &clock, seconds: 10, fraction: 1)
        #expect(e.busyFraction > 0.99)
        run(&e, clock: &clock, seconds: 0.5, fraction: 0)
        #expect(e.busyFraction > 0.5, "half a time constant still remembers the load")
        run(&e, clock: &clock, seconds: 0.5, fraction: 0)
        #expect(abs(e.busyFraction - 0.367_879 * 0.999_95) < 0.01)
        run(&e, clock: &clock, seconds: 5, fraction: 0)
        #expect(e.busyFraction < 0.01)
    }

    @Test("a short burst moves the average by its weight only (EWMA), not to the burst's level")
    func burst() {
        var e = CoreLoadEstimator(timeConstant: .seconds(1))
        var clock = Instant(nanoseconds: 0)
        run(&e, clock: &clock, seconds: 5, fraction: 0.2)
        run(&e, clock: &clock, seconds: 0.2, fraction: 1)
        let expected = 0.2 + 0.8 * (1 - 0.818_731)  // 1 - exp(-0.2)
        #expect(abs(e.busyFraction - expected) < 0.01)
        #expect(e.busyFraction < 0.5)
    }

    @Test("the average follows wall time, not turn count: one long turn weighs as many short ones")
    func turnLengths() {
        var short = CoreLoadEstimator()
        var long = CoreLoadEstimator()
        var a = Instant(nanoseconds: 0)
        var b = Instant(nanoseconds: 0)
        run(&short, clock: &a, seconds: 2, fraction: 0.9, turn: .microseconds(50))
        run(&long, clock: &b, seconds: 2, fraction: 0.9, turn: .milliseconds(500))
        #expect(abs(short.busyFraction - long.busyFraction) < 0.01)
        #expect(abs(short.busyFraction - 0.9 * (1 - 0.135_335)) < 0.01)
    }

    @Test("turns shorter than the sample period are summed before they count")
    func samplePeriod() {
        var e = CoreLoadEstimator(timeConstant: .seconds(1), samplePeriod: .milliseconds(100))
        var clock = Instant(nanoseconds: 0)
        run(&e, clock: &clock, seconds: 0.099, fraction: 1)
        #expect(e.samples == 0)
        #expect(e.busyFraction == 0)
        run(&e, clock: &clock, seconds: 0.001, fraction: 1)
        #expect(e.samples == 1)
        #expect(e.busyFraction > 0.09)
    }

    @Test("a real loop feeds its estimator every turn")
    func eventLoopFeedsIt() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var timer: TimerHandle?
        timer = loop.scheduleTimer(after: .milliseconds(5)) {
            if let timer { loop.reschedule(timer, at: loop.now + .milliseconds(5)) }
        }
        #expect(loop.run(until: { loop.load.samples >= 2 }, timeout: .seconds(10)))
        #expect(loop.load.busyFraction >= 0 && loop.load.busyFraction <= 1)
    }
}
