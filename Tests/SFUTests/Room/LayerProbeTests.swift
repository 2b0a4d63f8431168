import Reactor
import Testing

@testable import SFU

/// Automatic layer choice driven by the viewer's estimate, and probing back up
/// (`LayerProbe`), on `LayerLoopModel`'s closed loop (virtual clock; see its comment), and the
/// estimator's refusal of feedback that claims impossible bandwidth.
@Suite("Simulcast: automatic layer from the estimate, probing up")
struct LayerProbeTests {
    /// 5 Mbit/s, then 400 kbit/s from 10 s to 40 s, then 5 Mbit/s again.
    static let bottleneck: @Sendable (Double) -> Double = { $0 >= 10 && $0 < 40 ? 400_000 : 5_000_000 }

    @Test("behind a 400 kbit/s bottleneck the viewer is on the lowest layer within a few seconds, stays there, and probing brings it back to the top after the bottleneck lifts")
    func downAndBackUp() {
        let r = LayerLoopModel(capacity: Self.bottleneck).run(seconds: 70)
        #expect(r.layers(5...10) == [0], "the top layer on a fast path: \(r.switches)")
        let low = r.firstOn(2, after: 10)
        #expect(low != nil && low! <= 15, "on q at \(low ?? -1): \(r.switches)")
        #expect(r.layers(16...40) == [2], "no layer above q carried: \(r.switches)")
        let top = r.firstOn(0, after: 40)
        #expect(top != nil && top! <= 60, "back on f at \(top ?? -1): \(r.switches)")
        #expect(r.layers(61...70) == [0])
        #expect(r.probe.succeeded >= 2, "q→h and h→f were each shown by a probe")
        #expect(r.estimator.implausibleProbes == 0 && r.estimator.implausibleRates == 0)
    }

    @Test("behind a token-bucket shaper that lets a burst through, a layer just above the link's rate is not taken for one that fits (the layers' bitrates measured in the interop test)")
    func shaperBurstDoesNotFoolTheProbe() {
        // h + audio (420 kbit/s) is just over 400 kbit/s.
        var model = LayerLoopModel(capacity: { _ in 400_000 })
        model.bitrates = [850_000, 370_000, 120_000]
        model.shaperBurstBytes = 1650
        let r = model.run(seconds: 60)
        let low = r.firstOn(2, after: 0)
        #expect(low != nil && low! <= 8, "on q at \(low ?? -1): \(r.switches)")
        #expect(r.layers(10...60) == [2], "\(r.switches)")
        #expect(r.probe.probes >= 3 && r.probe.succeeded == 0)
    }

    @Test("a publisher ramping its top layer up faster than the estimate grows does not send an uncongested viewer down")
    func rampingPublisher() {
        var model = LayerLoopModel(capacity: { _ in 20_000_000 })
        model.bitrates = [600_000, 300_000, 100_000]
        model.growth = 0.2  // 600 kbit/s to 3.7 Mbit/s over 10 s
        model.growthUntil = 10
        let r = model.run(seconds: 20)
        #expect(r.layers(0...20) == [0], "\(r.switches)")
    }

    @Test("a viewer pinned to a layer stays on it behind the bottleneck and is never probed")
    func pinnedStays() {
        for layer in [0, 2] {
            var model = LayerLoopModel(capacity: Self.bottleneck)
            model.pinned = layer
            let r = model.run(seconds: 50)
            #expect(r.layers(0...50) == [layer])
            #expect(r.switches.isEmpty)
            #expect(r.probe.probes == 0 && r.probeBytesBySecond.allSatisfy { $0 == 0 })
        }
    }

    @Test("a viewer on the top layer is never probed")
    func topNotProbed() {
        let r = LayerLoopModel(capacity: { _ in 5_000_000 }).run(seconds: 30)
        #expect(r.layers(0...30) == [0])
        #expect(r.probe.probes == 0)
    }

    @Test("probing is bounded per viewer: at most one 16 KiB burst per 2 s, backing off to one per 4 s while bursts fail")
    func probeBound() {
        let r = LayerLoopModel(capacity: { _ in 400_000 }).run(seconds: 90)
        #expect(r.probe.probes > 0, "a viewer on q behind the bottleneck tries h")
        #expect(r.probe.succeeded == 0)
        // Per 2 s window, never more than one burst's bytes.
        for s in stride(from: 0, to: r.probeBytesBySecond.count - 1, by: 1) {
            let window = r.probeBytesBySecond[s] + r.probeBytesBySecond[s + 1]
            #expect(window <= LayerProbe.maximumBytes + 1200, "seconds \(s)–\(s + 2): \(window) bytes")
        }
        // After the back-off has grown: at most one burst per 4 s (+1 for the window's edge).
        let late = r.probeBytesBySecond[50..<90].filter { $0 > 0 }.count
        #expect(late <= 40 / 4 + 1, "bursts in the last 40 s: \(late)")
        let total = r.probeBytesBySecond.reduce(0, +)
        #expect(Double(total) / 90 <= 8 * 1024, "mean \(Double(total) / 90) B/s")
    }

    @Test("the core's probe budget: bursts beyond its bytes per second are refused and counted, then allowed as it refills")
    func coreBudget() {
        var budget = LayerProbeBudget()
        let t = Instant(nanoseconds: 5_000_000_000)
        var taken = 0
        for _ in 0..<1000 where budget.take(16 * 1024, now: t) { taken += 16 * 1024 }
        #expect(taken <= LayerProbeBudget.bytesPerSecond)
        #expect(budget.refused >= 1000 - LayerProbeBudget.bytesPerSecond / (16 * 1024))
        let soon = budget.take(16 * 1024, now: t + .milliseconds(1))
        #expect(!soon)
        let later = budget.take(16 * 1024, now: t + .milliseconds(100))
        #expect(later, "100 ms refills 200 kB")
    }

    /// A log with `count` packets of `size` bytes sent `spacingMicros` apart from `start`.
    static func sent(_ log: SentPacketLog, count: Int, size: Int, from start: UInt64, spacingMicros: UInt64) -> [UInt16] {
        (0..<count).map { log.recorder.record(bytes: size, at: Instant(nanoseconds: (start + UInt64($0) * spacingMicros) * 1000)) }
    }

    @Test("a probe whose feedback claims it arrived far faster than it was sent is refused and counted; a real one raises the estimate")
    func implausibleProbe() {
        for forged in [true, false] {
            let log = SentPacketLog(firstSequence: 100)
            var estimator = BandwidthEstimator()
            // A second of 300 kbit/s media, acknowledged as sent: an estimate near it.
            var clock: UInt64 = 1_000_000
            for _ in 0..<10 {
                let seqs = Self.sent(log, count: 3, size: 1250, from: clock, spacingMicros: 33_000)
                clock += 100_000
                estimator.transportFeedback(log: log, now: Instant(nanoseconds: clock * 1000)) { body in
                    for (i, s) in seqs.enumerated() { body(s, Int64(clock - 100_000 + UInt64(i) * 33_000 + 20_000)) }
                }
            }
            let before = estimator.estimate ?? 0
            #expect(before > 0 && before < 700_000, "\(before)")
            // A burst of 12 × 1200 bytes over 55 ms (2 Mbit/s).
            estimator.startProbe(first: log.nextSequence, targetRate: 2_000_000)
            let burst = Self.sent(log, count: 12, size: 1200, from: clock, spacingMicros: 5_000)
            estimator.closeProbe(last: log.newestSequence!)
            clock += 100_000
            estimator.transportFeedback(log: log, now: Instant(nanoseconds: clock * 1000)) { body in
                for (i, s) in burst.enumerated() {
                    // Forged: all within 0.5 ms (115 Mbit/s), 20 times faster than sent.
                    let arrival = forged ? clock - 80_000 + UInt64(i) * 40 : clock - 100_000 + UInt64(i) * 5_000 + 20_000
                    body(s, Int64(arrival))
                }
            }
            let outcome = estimator.takeProbeOutcome()
            if forged {
                #expect(outcome == .implausible)
                #expect(estimator.implausibleProbes == 1 && estimator.ignoredFeedback >= 1)
                // Not raised to what the burst tried (the real one below reaches 1.5 Mbit/s);
                // at most to the rate its packets were sent over the last half second.
                #expect((estimator.estimate ?? 0) < 1_000_000, "not raised: \(estimator.estimate ?? 0)")
            } else {
                guard case .carried(let r) = outcome else {
                    Issue.record("\(String(describing: outcome))")
                    continue
                }
                #expect(r > 1_500_000 && r <= 2_000_000)
                #expect((estimator.estimate ?? 0) >= 1_500_000, "raised: \(estimator.estimate ?? 0)")
                #expect(estimator.implausibleProbes == 0)
            }
        }
    }

    @Test("feedback claiming packets arrived twenty times faster than they were sent is capped at 8 × the send rate and counted")
    func implausibleAckedRate() {
        let log = SentPacketLog(firstSequence: 7)
        var estimator = BandwidthEstimator()
        var clock: UInt64 = 1_000_000
        // 400 kbit/s sent (5 × 1000 bytes per 100 ms) for 8 s; arrivals claimed 20 times closer
        // together (8 s of sending arriving within 0.4 s).
        for k in 0..<80 {
            let seqs = Self.sent(log, count: 5, size: 1000, from: clock, spacingMicros: 20_000)
            clock += 100_000
            estimator.transportFeedback(log: log, now: Instant(nanoseconds: clock * 1000)) { body in
                for (i, s) in seqs.enumerated() { body(s, Int64(UInt64(k) * 5_000 + UInt64(i) * 1_000)) }
            }
        }
        #expect(estimator.implausibleRates > 0)
        #expect(estimator.ignoredFeedback >= estimator.implausibleRates)
        let e = estimator.estimate ?? 0
        // 1.5 × (8 × 400 kbit/s) + 10 kbit/s is the most the cap allows (uncapped: the
        // claimed ~7 Mbit/s, and 1.5 × that).
        #expect(e <= 4_810_000, "\(e)")
    }
}
