import Reactor
import Testing

@testable import SFU

@Suite("Upstream NACK generation")
struct NackGeneratorTests {
    func collect(_ g: inout NackGenerator, at t: Instant, rtt: Duration? = nil) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: 64)
        let n = out.withUnsafeMutableBufferPointer { g.collect(now: t, roundTripTime: rtt, into: $0) }
        return Array(out[0..<n])
    }

    @Test("a gap is NACKed after the reordering allowance, then retried each interval")
    func gap() {
        var g = NackGenerator(reorderDelay: .milliseconds(5), retryInterval: .milliseconds(100))
        g.received(sequenceNumber: 10, now: qualityT0)
        let newGap = g.received(sequenceNumber: 13, now: qualityT0)
        #expect(newGap)
        #expect(collect(&g, at: qualityT0 + .milliseconds(1)).isEmpty)
        #expect(!g.isDue(now: qualityT0 + .milliseconds(1)))
        #expect(g.isDue(now: qualityT0 + .milliseconds(5)))
        #expect(collect(&g, at: qualityT0 + .milliseconds(5)) == [11, 12])
        #expect(collect(&g, at: qualityT0 + .milliseconds(50)).isEmpty)
        #expect(collect(&g, at: qualityT0 + .milliseconds(105)) == [11, 12])
    }

    @Test("a packet that arrives late (reordered or repaired) is no longer NACKed")
    func recovered() {
        var g = NackGenerator()
        g.received(sequenceNumber: 10, now: qualityT0)
        g.received(sequenceNumber: 13, now: qualityT0)
        g.received(sequenceNumber: 12, now: qualityT0 + .milliseconds(1))  // reordered
        #expect(collect(&g, at: qualityT0 + .milliseconds(10)) == [11])
        g.received(sequenceNumber: 11, now: qualityT0 + .milliseconds(30))  // repaired
        #expect(g.missingCount == 0 && g.recovered == 2)
        #expect(collect(&g, at: qualityT0 + .seconds(1)).isEmpty)
        g.received(sequenceNumber: 11, now: qualityT0 + .seconds(1))  // duplicate
        #expect(g.duplicatesOrLate == 1)
    }

    @Test("gaps across the 16-bit wrap are found")
    func wrap() {
        var g = NackGenerator()
        g.received(sequenceNumber: 65533, now: qualityT0)
        g.received(sequenceNumber: 1, now: qualityT0)
        #expect(collect(&g, at: qualityT0 + .milliseconds(10)) == [65534, 65535, 0])
        #expect(g.highestSequenceNumber == 1)
    }

    @Test("a packet is given up after maxTries or maxAge")
    func giveUp() {
        var g = NackGenerator(
            maxTries: 3, maxAge: .seconds(1), reorderDelay: Duration(nanoseconds: 0), retryInterval: .milliseconds(100))
        g.received(sequenceNumber: 1, now: qualityT0)
        g.received(sequenceNumber: 3, now: qualityT0)
        var sent = 0
        for ms in stride(from: UInt64(0), through: 900, by: 100) {
            sent += collect(&g, at: qualityT0 + .milliseconds(ms)).count
        }
        #expect(sent == 3 && g.missingCount == 0 && g.givenUp == 1)
        var h = NackGenerator(maxTries: 100, maxAge: .milliseconds(300), reorderDelay: Duration(nanoseconds: 0))
        h.received(sequenceNumber: 1, now: qualityT0)
        h.received(sequenceNumber: 3, now: qualityT0)
        #expect(collect(&h, at: qualityT0) == [2])
        #expect(collect(&h, at: qualityT0 + .milliseconds(200)) == [2])
        #expect(collect(&h, at: qualityT0 + .milliseconds(400)).isEmpty)
        #expect(h.missingCount == 0)
    }

    @Test("retries follow the RTT when it is known")
    func rttPaced() {
        var g = NackGenerator(reorderDelay: Duration(nanoseconds: 0), retryInterval: .milliseconds(500))
        g.received(sequenceNumber: 1, now: qualityT0)
        g.received(sequenceNumber: 3, now: qualityT0)
        #expect(collect(&g, at: qualityT0, rtt: .milliseconds(40)) == [2])
        #expect(collect(&g, at: qualityT0 + .milliseconds(59), rtt: .milliseconds(40)).isEmpty)
        #expect(collect(&g, at: qualityT0 + .milliseconds(60), rtt: .milliseconds(40)) == [2])
    }

    @Test("memory stays bounded: huge gaps reset, long gaps keep only the newest, output fits the buffer")
    func bounded() {
        var g = NackGenerator(capacity: 32, maxGap: 1000, reorderDelay: Duration(nanoseconds: 0))
        g.received(sequenceNumber: 0, now: qualityT0)
        g.received(sequenceNumber: 5000, now: qualityT0)  // a jump: reset, nothing to NACK
        #expect(g.missingCount == 0 && g.resets == 1)
        g.received(sequenceNumber: 5500, now: qualityT0)  // 499 lost, keep the newest 32
        #expect(g.missingCount == 32)
        let out = collect(&g, at: qualityT0)
        #expect(out.count == 32 && out.first == 5500 - 32 && out.last == 5499)
        // A far jump back also resets rather than being taken as a late packet.
        g.received(sequenceNumber: 100, now: qualityT0)
        #expect(g.resets == 2 && g.missingCount == 0)
        // Only as many as the caller's buffer holds come out at once; the rest stay due.
        var h = NackGenerator(reorderDelay: Duration(nanoseconds: 0))
        h.received(sequenceNumber: 0, now: qualityT0)
        h.received(sequenceNumber: 101, now: qualityT0)
        #expect(collect(&h, at: qualityT0).count == 64)
        #expect(collect(&h, at: qualityT0).count == 36)
    }

    @Test("random loss and reordering: every NACKed number was really missing at that moment")
    func randomized() {
        var rng = SplitMixRandom(seed: 11)
        var g = NackGenerator(reorderDelay: .milliseconds(5))
        var arrived = Set<UInt16>()
        var order: [UInt16] = []
        var s: UInt16 = 65000
        for _ in 0..<3000 {
            s &+= 1
            if rng.next() % 20 != 0 { order.append(s) }
        }
        for i in stride(from: 0, to: order.count - 1, by: 7) where rng.next() % 2 == 0 { order.swapAt(i, i + 1) }
        var t = qualityT0
        for seq in order {
            t = t + .milliseconds(2)
            g.received(sequenceNumber: seq, now: t)
            arrived.insert(seq)
            if g.isDue(now: t) {
                for n in collect(&g, at: t) { #expect(!arrived.contains(n)) }
            }
        }
        #expect(g.missingCount <= g.capacity)
    }

    @Test("a repair that fills a gap is taken; an RTX copy of a packet already here is not")
    func repairs() {
        var g = NackGenerator()
        g.received(sequenceNumber: 1, now: qualityT0)
        g.received(sequenceNumber: 3, now: qualityT0)
        let probe = g.repairArrived(sequenceNumber: 1)
        let fill = g.repairArrived(sequenceNumber: 2)
        let again = g.repairArrived(sequenceNumber: 2)
        #expect(!probe && fill && !again)
        #expect(g.missingCount == 0 && g.recovered == 1 && g.duplicatesOrLate == 2)
    }

    /// Loses `seq` (its neighbours arrive at `t`, the lower one next after the highest so
    /// far) and NACKs it at `t`.
    func nackOnce(_ g: inout NackGenerator, seq: UInt16, at t: Instant) {
        g.received(sequenceNumber: seq &- 1, now: t)
        g.received(sequenceNumber: seq &+ 1, now: t)
        #expect(collect(&g, at: t) == [seq])
    }

    @Test("the publisher RTT is the NACK-to-repair time, smoothed as RFC 6298 does")
    func rttFromRepairs() {
        var g = NackGenerator(reorderDelay: Duration(nanoseconds: 0), retryInterval: .milliseconds(100))
        #expect(g.roundTripTime == nil && g.currentRetryInterval == .milliseconds(100))
        nackOnce(&g, seq: 10, at: qualityT0)
        let filled = g.repairArrived(sequenceNumber: 10, now: qualityT0 + .milliseconds(40))
        #expect(filled)
        // First sample: SRTT = R, RTTVAR = R/2; the retry waits SRTT + 2·RTTVAR.
        #expect(g.roundTripTime == .milliseconds(40) && g.roundTripVariation == .milliseconds(20))
        #expect(g.currentRetryInterval == .milliseconds(80))
        // A plain (non-RTX) repair counts too: RTTVAR = ¾·20 + ¼·|40−60| = 20, SRTT = ⅞·40 + ⅛·60.
        nackOnce(&g, seq: 13, at: qualityT0 + .seconds(1))
        g.received(sequenceNumber: 13, now: qualityT0 + .seconds(1) + .milliseconds(60))
        #expect(g.roundTripTime == .microseconds(42_500) && g.roundTripVariation == .milliseconds(20))
        #expect(g.lastRoundTripSample == .milliseconds(60) && g.roundTripSamples == 2)
    }

    @Test("Karn's rule: a packet NACKed more than once, or never, gives no RTT sample")
    func karn() {
        var g = NackGenerator(reorderDelay: .milliseconds(5), retryInterval: .milliseconds(100))
        g.received(sequenceNumber: 1, now: qualityT0)
        g.received(sequenceNumber: 3, now: qualityT0)
        g.received(sequenceNumber: 5, now: qualityT0)
        #expect(collect(&g, at: qualityT0 + .milliseconds(5)) == [2, 4])
        #expect(collect(&g, at: qualityT0 + .milliseconds(105)) == [2, 4])
        let filled = g.repairArrived(sequenceNumber: 2, now: qualityT0 + .milliseconds(120))  // which NACK?
        #expect(filled)
        g.received(sequenceNumber: 4, now: qualityT0 + .milliseconds(130))
        // Reordered within the allowance: never NACKed.
        g.received(sequenceNumber: 7, now: qualityT0 + .milliseconds(200))
        g.received(sequenceNumber: 6, now: qualityT0 + .milliseconds(201))
        #expect(g.roundTripTime == nil && g.roundTripSamples == 0 && g.recovered == 3)
    }

    @Test("retries follow the measured RTT, within 20…500 ms")
    func measuredRetryPacing() {
        var g = NackGenerator(reorderDelay: Duration(nanoseconds: 0), retryInterval: .milliseconds(300))
        nackOnce(&g, seq: 100, at: qualityT0)
        let filled = g.repairArrived(sequenceNumber: 100, now: qualityT0 + .milliseconds(20))
        #expect(filled)
        #expect(g.currentRetryInterval == .milliseconds(40))
        let t = qualityT0 + .seconds(1)
        nackOnce(&g, seq: 103, at: t)
        #expect(collect(&g, at: t + .milliseconds(39)).isEmpty)
        #expect(collect(&g, at: t + .milliseconds(40)) == [103])
        // Loopback: a 1 ms RTT still waits 20 ms between retries.
        var fast = NackGenerator(reorderDelay: Duration(nanoseconds: 0))
        nackOnce(&fast, seq: 1, at: qualityT0)
        _ = fast.repairArrived(sequenceNumber: 1, now: qualityT0 + .milliseconds(1))
        #expect(fast.currentRetryInterval == .milliseconds(20))
        // A very slow path: at most 500 ms; and a "repair" after maxAge is no sample at all.
        var slow = NackGenerator(maxAge: .seconds(1), reorderDelay: Duration(nanoseconds: 0))
        nackOnce(&slow, seq: 1, at: qualityT0)
        _ = slow.repairArrived(sequenceNumber: 1, now: qualityT0 + .milliseconds(400))
        #expect(slow.currentRetryInterval == .milliseconds(500))
        var stale = NackGenerator(maxAge: .seconds(1), reorderDelay: Duration(nanoseconds: 0))
        nackOnce(&stale, seq: 1, at: qualityT0)
        _ = stale.repairArrived(sequenceNumber: 1, now: qualityT0 + .milliseconds(1500))
        #expect(stale.roundTripTime == nil)
    }
}
