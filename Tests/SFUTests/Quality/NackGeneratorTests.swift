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
        var rng = SplitMix64(seed: 11)
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
}
