import Testing

@testable import SFU

/// The estimator on transport-cc feedback recorded from real Chromium viewers (`Fixtures/`):
/// the publisher (aiortc, about 1.7 Mbit/s) does not adapt to the estimate, so behind the
/// bottleneck the loss stays heavy throughout; the estimate must still fall fast, hold near
/// what the path carries without collapsing, and climb back once the bottleneck is lifted.
@Suite("Viewer bandwidth estimator on recorded Chromium feedback")
struct BandwidthTraceTests {
    /// (seconds since the first feedback, estimate) after every feedback of a fixture.
    static func replay(_ name: String) -> (samples: [(Double, Double)], estimator: BandwidthEstimator) {
        var samples: [(Double, Double)] = []
        let e = BandwidthTrace(fixture: name).replay { t, estimate in
            if let estimate { samples.append((t, Double(estimate))) }
        }
        return (samples, e)
    }

    static func during(_ samples: [(Double, Double)], _ range: ClosedRange<Double>) -> [Double] {
        samples.filter { range.contains($0.0) }.map(\.1)
    }

    @Test("behind 400 kbit/s (from 11.1 s to 31.1 s): below 450 kbit/s within 4 s, never collapsing, back above 1 Mbit/s within 20 s of the lift")
    func shaped() {
        let (samples, estimator) = Self.replay("chromium-400kbit")
        #expect(estimator.feedbacks == 819)
        #expect(estimator.ignoredFeedback == 0)
        #expect(estimator.packetsLost > 2000, "the bottleneck's tail drops")
        #expect(Self.during(samples, 8...11).allSatisfy { $0 > 1_400_000 }, "before the bottleneck")
        let fell = samples.first { $0.0 >= 11.1 && $0.1 < 450_000 }
        #expect(fell != nil && fell!.0 <= 15.1, "fell at \(fell?.0 ?? -1)")
        let shaped = Self.during(samples, 16...31.1)
        #expect(!shaped.isEmpty && shaped.allSatisfy { $0 < 450_000 && $0 >= 200_000 }, "\(shaped.min() ?? 0)…\(shaped.max() ?? 0)")
        let back = samples.first { $0.0 >= 31.1 && $0.1 > 1_000_000 }
        #expect(back != nil && back!.0 <= 51.1, "back at \(back?.0 ?? -1)")
    }

    @Test("the unshaped viewer of the same run: the estimate climbs to what is sent and stays there")
    func direct() {
        let (samples, estimator) = Self.replay("chromium-direct")
        #expect(estimator.ignoredFeedback == 0)
        #expect(estimator.delayDecreases == 0)
        let late = Self.during(samples, 10...30)
        #expect(!late.isEmpty && late.allSatisfy { $0 > 1_400_000 }, "min \(late.min() ?? 0)")
    }
}
