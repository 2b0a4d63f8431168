import Reactor
import Testing

@testable import SFU

/// `TemporalLayerChoice`: a lower temporal cap before a lower spatial layer, up again by
/// trial after a quiet period, with a failed trial doubling the wait.
@Suite("Automatic temporal cap")
struct TemporalLayerChoiceTests {
    /// libwebrtc's three-layer split of a 1 Mbit/s layer: 40 %, 60 %, 100 % cumulative.
    static let rates: [UInt64] = [400_000, 600_000, 1_000_000]

    static func at(_ seconds: Int) -> Instant { Instant(nanoseconds: UInt64(100 + seconds) * 1_000_000_000) }

    @Test("the layer fits: no cap; it does not: the highest cap that fits, holding the spatial layer; not even TL0 fits: cap 0 and the spatial choice goes down")
    func down() {
        var c = TemporalLayerChoice()
        #expect(c.step(rates: Self.rates, estimate: 1_200_000, now: Self.at(0)) == .init(cap: nil, holds: false))
        #expect(c.step(rates: Self.rates, estimate: 700_000, now: Self.at(1)) == .init(cap: 1, holds: true))
        #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(2)) == .init(cap: 0, holds: true))
        #expect(c.step(rates: Self.rates, estimate: 300_000, now: Self.at(3)) == .init(cap: 0, holds: false))
    }

    @Test("an estimate a little under the layer's rate with no decrease (lagging a ramp-up, not congestion) moves nothing; a delay-based decrease does")
    func laggingEstimate() {
        var c = TemporalLayerChoice()
        #expect(c.step(rates: Self.rates, estimate: 900_000, now: Self.at(0)) == .init(cap: nil, holds: false))
        #expect(c.step(rates: Self.rates, estimate: 920_000, now: Self.at(10)) == .init(cap: nil, holds: false))
        #expect(c.step(rates: Self.rates, estimate: 920_000, decreases: 1, now: Self.at(11)) == .init(cap: 1, holds: true))
    }

    @Test("without temporal layers or an estimate: no cap, the spatial choice decides")
    func nothingToCap() {
        var c = TemporalLayerChoice()
        #expect(c.step(rates: [900_000], estimate: 100_000, now: Self.at(0)) == .init(cap: nil, holds: false))
        #expect(c.step(rates: [], estimate: 100_000, now: Self.at(1)) == .init(cap: nil, holds: false))
        #expect(c.step(rates: Self.rates, estimate: nil, now: Self.at(2)) == .init(cap: nil, holds: false))
    }

    @Test("up one layer at a time after the quiet period, when the estimate has headroom over what it is sent")
    func up() {
        var c = TemporalLayerChoice()
        #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(0)).cap == 0)
        #expect(c.step(rates: Self.rates, estimate: 550_000, now: Self.at(1)).cap == 0, "quiet for 2 s")
        #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(2)).cap == 0, "no headroom over 400 k")
        #expect(c.step(rates: Self.rates, estimate: 550_000, now: Self.at(3)).cap == 1)
        #expect(c.step(rates: Self.rates, estimate: 800_000, now: Self.at(4)).cap == 1, "quiet after a step")
        #expect(c.step(rates: Self.rates, estimate: 800_000, now: Self.at(5)) == .init(cap: nil, holds: false))
    }

    @Test("a step up that comes straight back down doubles the wait before the next (up to 16 s); one that holds resets it")
    func failedTrialsBackOff() {
        var c = TemporalLayerChoice()
        var t = 0
        #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(t)).cap == 0)
        var waits: [Int] = []
        for _ in 0..<5 {
            // Up as soon as allowed, then down at once: the path does not carry layer 1.
            var waited = 0
            repeat {
                t += 1
                waited += 1
            } while c.step(rates: Self.rates, estimate: 550_000, now: Self.at(t)).cap == 0
            waits.append(waited)
            t += 1
            #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(t)).cap == 0)
        }
        #expect(waits == [2, 4, 8, 16, 16])
        // A step up that holds 5 s: the next wait is 2 s again.
        repeat { t += 1 } while c.step(rates: Self.rates, estimate: 650_000, now: Self.at(t)).cap == 0
        t += 5
        #expect(c.step(rates: Self.rates, estimate: 650_000, now: Self.at(t)).cap == 1)
        t += 1
        #expect(c.step(rates: Self.rates, estimate: 450_000, now: Self.at(t)).cap == 0)
        var waited = 0
        repeat {
            t += 1
            waited += 1
        } while c.step(rates: Self.rates, estimate: 550_000, now: Self.at(t)).cap == 0
        #expect(waited == 2)
    }
}
