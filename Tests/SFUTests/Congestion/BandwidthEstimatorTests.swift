import Reactor
import Testing

@testable import SFU

/// The estimator on feedback traces from `LinkModel` (generated: see its comment for the
/// model). Every run is deterministic: no wall clock, seeded loss.
@Suite("Viewer bandwidth estimator on link traces")
struct BandwidthEstimatorTests {
    static let fast: @Sendable (Double) -> Double = { _ in 5_000_000 }

    @Test("a steady 5 Mbit/s link: the estimate settles at or above what is sent and stays there")
    func steady() {
        let (samples, estimator) = LinkModel(capacity: Self.fast).run(seconds: 20)
        let late = samples.estimates(5...20)
        #expect(!late.isEmpty)
        #expect(late.allSatisfy { $0 >= 1_400_000 }, "min \(late.min() ?? 0)")
        #expect(estimator.signal == .transportCC)
        #expect(estimator.ignoredFeedback == 0)
        #expect(estimator.delayDecreases == 0)
    }

    @Test("a link that drops to 400 kbit/s: below 450 kbit/s within 4 s, and not far below after")
    func drop() {
        let model = LinkModel(capacity: { $0 < 10 ? 5_000_000 : 400_000 })
        let (samples, _) = model.run(seconds: 30)
        #expect(samples.estimates(8...10).allSatisfy { $0 >= 1_400_000 })
        let fell = samples.first { $0.time >= 10 && ($0.estimate ?? .max) < 450_000 }
        #expect(fell != nil && fell!.time <= 14, "fell at \(fell?.time ?? -1)")
        let after = samples.estimates(16...30)
        #expect(after.allSatisfy { $0 < 600_000 }, "max \(after.max() ?? 0)")
        let mean = after.reduce(0, +) / Double(max(after.count, 1))
        #expect(mean >= 250_000 && mean <= 480_000, "mean \(mean)")
    }

    @Test("a link that recovers from 400 kbit/s: the estimate climbs back above 1.2 Mbit/s")
    func recovery() {
        let model = LinkModel(capacity: { $0 >= 10 && $0 < 20 ? 400_000 : 5_000_000 })
        let (samples, _) = model.run(seconds: 45)
        #expect(samples.estimates(17...20).allSatisfy { $0 < 600_000 })
        let back = samples.first { $0.time >= 20 && ($0.estimate ?? 0) >= 1_200_000 }
        #expect(back != nil && back!.time <= 40, "back at \(back?.time ?? -1)")
    }

    @Test("2 % random loss on a fast link does not collapse the estimate")
    func randomLoss() {
        let model = LinkModel(capacity: Self.fast, randomLoss: { _ in 0.02 }, seed: 7)
        let (samples, estimator) = model.run(seconds: 30)
        let late = samples.estimates(5...30)
        #expect(late.allSatisfy { $0 >= 1_000_000 }, "min \(late.min() ?? 0)")
        #expect(estimator.packetsLost > 0)
    }

    @Test("bursts of absurd feedback are ignored and counted, and the estimate is as without them")
    func absurdFeedback() {
        var model = LinkModel(capacity: { $0 < 10 ? 5_000_000 : 400_000 })
        let clean = model.run(seconds: 20).samples
        model.tamper = { time, bytes in
            // From 3 s to 5 s and 12 s to 13 s, every feedback comes with forged twins:
            // arrival times 24.6 s later, and numbers never sent.
            guard (3...5).contains(time) || (12...13).contains(time) else { return [bytes] }
            var jumped = bytes
            jumped[16] &+= 0x06  // reference time + 6 × 4.1 s
            var unsent = bytes
            unsent[12] &+= 0x80  // base sequence 32 768 ahead
            return [jumped, bytes, unsent]
        }
        let (tampered, estimator) = model.run(seconds: 20)
        #expect(estimator.absurdFeedback > 0)
        #expect(estimator.unknownSequence > 0)
        #expect(estimator.rebaselines == 0)
        let a = clean.estimates(14...20)
        let b = tampered.estimates(14...20)
        let meanA = a.reduce(0, +) / Double(max(a.count, 1))
        let meanB = b.reduce(0, +) / Double(max(b.count, 1))
        #expect(abs(meanA - meanB) < 0.25 * meanA, "clean \(meanA), tampered \(meanB)")
        #expect(tampered.estimates(8...10).allSatisfy { $0 >= 1_400_000 })
    }
}
