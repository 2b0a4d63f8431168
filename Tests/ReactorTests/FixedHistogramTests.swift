import Testing

@testable import Reactor

@Suite("Fixed-bucket histogram")
struct FixedHistogramTests {
    @Test("a value lands in the first bucket whose bound it does not exceed; beyond the last, in +Inf")
    func buckets() {
        var h = FixedHistogram(boundsSeconds: [0.001, 0.01, 0.1])
        h.record(nanoseconds: 0)
        h.record(nanoseconds: 1_000_000)  // exactly 1 ms: the 1 ms bucket (bounds are inclusive)
        h.record(nanoseconds: 1_000_001)
        h.record(.milliseconds(50))
        h.record(.seconds(3))
        #expect(h.counts == [2, 1, 1, 1])
        #expect(h.count == 5)
        #expect(h.sumNanoseconds == 0 + 1_000_000 + 1_000_001 + 50_000_000 + 3_000_000_000)
        #expect(h.boundsSeconds == [0.001, 0.01, 0.1])
    }

    @Test("histograms of two cores add up bucket by bucket")
    func adds() {
        var a = FixedHistogram(boundsSeconds: FixedHistogram.loopTurnBounds)
        var b = a
        a.record(nanoseconds: 5_000)
        b.record(nanoseconds: 5_000)
        b.record(nanoseconds: 200_000_000)
        a.add(b)
        #expect(a.count == 3)
        #expect(a.counts.first == 2)
        #expect(a.counts.last == 1)
    }

    @Test("an event loop records the work of each turn")
    func loopTurns() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var fired = 0
        loop.scheduleTimer(after: .milliseconds(1)) { fired += 1 }
        loop.run(until: { fired == 1 })
        #expect(loop.turnDurations.count >= 1)
        #expect(loop.turnDurations.count == UInt64(loop.counters.loopTurns))
    }
}
