import Reactor
import Testing

@testable import SFU

@Suite("NACK responder")
struct NackResponderTests {
    @Test("a packet is resent once, then not again within one RTT, then again after it")
    func repeatsSuppressed() {
        var r = NackResponder()
        #expect(r.decide(sequenceNumber: 10, bytes: 1000, now: qualityT0) == .resend)
        #expect(r.decide(sequenceNumber: 10, bytes: 1000, now: qualityT0 + .milliseconds(50)) == .repeated)
        #expect(r.decide(sequenceNumber: 11, bytes: 1000, now: qualityT0 + .milliseconds(50)) == .resend)
        #expect(r.decide(sequenceNumber: 10, bytes: 1000, now: qualityT0 + .milliseconds(101)) == .resend)
        #expect(r.suppressedRepeats == 1 && r.resent == 3 && r.resentBytes == 3000)
    }

    @Test("the repeat window is one measured RTT within bounds, so a receiver's own retry after an RTT is answered")
    func rttWindow() {
        var r = NackResponder()
        #expect(r.repeatInterval == .milliseconds(100))
        r.roundTripTime = .milliseconds(200)
        #expect(r.repeatInterval == .milliseconds(200))
        r.roundTripTime = .milliseconds(1)
        #expect(r.repeatInterval == .milliseconds(10))
        r.roundTripTime = .seconds(10)
        #expect(r.repeatInterval == .milliseconds(500))
        r.roundTripTime = .milliseconds(40)
        #expect(r.decide(sequenceNumber: 1, bytes: 100, now: qualityT0) == .resend)
        #expect(r.decide(sequenceNumber: 1, bytes: 100, now: qualityT0 + .milliseconds(39)) == .repeated)
        #expect(r.decide(sequenceNumber: 1, bytes: 100, now: qualityT0 + .milliseconds(40)) == .resend)
    }

    @Test("every resend gets one follow-up copy half an RTT later, in order, then none")
    func followUps() {
        var r = NackResponder()
        r.roundTripTime = .milliseconds(60)
        #expect(r.followUpDelay == .milliseconds(30))
        #expect(r.decide(sequenceNumber: 7, bytes: 1000, now: qualityT0) == .resend)
        r.scheduleFollowUp(sequenceNumber: 7, now: qualityT0)
        #expect(r.decide(sequenceNumber: 9, bytes: 1000, now: qualityT0 + .milliseconds(5)) == .resend)
        r.scheduleFollowUp(sequenceNumber: 9, now: qualityT0 + .milliseconds(5))
        #expect(r.hasFollowUps)
        #expect(r.takeDueFollowUp(now: qualityT0 + .milliseconds(29)) == nil)
        #expect(r.takeDueFollowUp(now: qualityT0 + .milliseconds(30)) == 7)
        #expect(r.takeDueFollowUp(now: qualityT0 + .milliseconds(30)) == nil)
        #expect(r.takeDueFollowUp(now: qualityT0 + .milliseconds(40)) == 9)
        #expect(!r.hasFollowUps)
        // The copy is sent although it repeats a resend within the RTT, and it restarts the
        // repeat window: a NACK that crossed it is not answered a third time.
        #expect(r.decideFollowUp(sequenceNumber: 9, bytes: 1000, now: qualityT0 + .milliseconds(40)) == .resend)
        #expect(r.decide(sequenceNumber: 9, bytes: 1000, now: qualityT0 + .milliseconds(90)) == .repeated)
        #expect(r.followUpsSent == 1 && r.resent == 2 && r.resentBytes == 3000)
    }

    @Test("follow-ups are bounded: a full queue drops the oldest, the budget refuses the rest, all counted")
    func followUpBounds() {
        var r = NackResponder(minimumRate: 200_000, burst: .milliseconds(500))  // 12 500 bytes of burst
        for s in 0..<200 { r.scheduleFollowUp(sequenceNumber: UInt16(s), now: qualityT0) }
        #expect(r.followUpsDropped == 168)  // 32 kept
        var sent = 0
        var taken: [UInt16] = []
        while let s = r.takeDueFollowUp(now: qualityT0 + .milliseconds(20)) {
            taken.append(s)
            if r.decideFollowUp(sequenceNumber: s, bytes: 1000, now: qualityT0 + .milliseconds(20)) == .resend { sent += 1 }
        }
        #expect(taken.first == 168 && taken.last == 199 && taken.count == 32)
        #expect(sent == 12)
        #expect(r.followUpsSent == 12 && r.followUpsDropped == 168 + 20)
        var off = NackResponder(sendsFollowUps: false)
        off.scheduleFollowUp(sequenceNumber: 1, now: qualityT0)
        #expect(!off.hasFollowUps)
    }

    @Test("a NACK flood is capped by the resend budget and counted; the budget refills")
    func budget() {
        // 200 kbps, 500 ms burst: 100 000 bits = 12 500 bytes at once.
        var r = NackResponder(shareOfBitrate: 20, minimumRate: 200_000, burst: .milliseconds(500))
        var sent = 0
        for s in 0..<100 where r.decide(sequenceNumber: UInt16(s), bytes: 1000, now: qualityT0) == .resend {
            sent += 1
        }
        #expect(sent == 12)
        #expect(r.suppressedBudget == 88)
        // 100 ms later: 20 000 bits more.
        var later = 0
        for s in 100..<110
        where r.decide(sequenceNumber: UInt16(s), bytes: 1000, now: qualityT0 + .milliseconds(100)) == .resend {
            later += 1
        }
        #expect(later == 3)  // 4 000 bits left over + 20 000 refilled
        // A long pause refills only up to the burst.
        var afterPause = 0
        for s in 200..<300
        where r.decide(sequenceNumber: UInt16(s), bytes: 1000, now: qualityT0 + .seconds(60)) == .resend {
            afterPause += 1
        }
        #expect(afterPause == 12)
    }

    @Test("the budget scales with the stream bitrate, bounded below and above")
    func budgetRate() {
        var r = NackResponder(shareOfBitrate: 20, minimumRate: 100_000)
        r.updateStreamBitrate(2_000_000)
        #expect(r.budgetRate == 400_000)
        r.updateStreamBitrate(10_000)
        #expect(r.budgetRate == 100_000)
        r.updateStreamBitrate(.max)
        #expect(r.budgetRate <= 1_000_000_000)
        #expect(r.decide(sequenceNumber: 1, bytes: 65535, now: qualityT0) == .resend)  // no overflow
    }

    @Test("missing packets and refunds are counted; RTX sequence numbers run on and wrap")
    func bookkeeping() {
        var r = NackResponder(firstRTXSequence: 65535)
        r.recordMissing()
        #expect(r.requested == 1 && r.missing == 1)
        #expect(r.decide(sequenceNumber: 3, bytes: 500, now: qualityT0) == .resend)
        r.refund(bytes: 500)
        #expect(r.resent == 0 && r.resentBytes == 0)
        #expect(r.takeRTXSequence() == 65535)
        #expect(r.takeRTXSequence() == 0)
    }

    @Test("a flood of NACKs for packets long gone resends nothing and is counted")
    func floodForGonePackets() {
        let history = PacketHistory(slotCount: 64)
        let p = qualityRTP(seq: 1000)
        p.withUnsafeBytes { _ = history.store($0, sequenceNumber: 1000, now: qualityT0) }
        var r = NackResponder()
        var rng = SplitMixRandom(seed: 9)
        for _ in 0..<10_000 {
            let seq = UInt16(truncatingIfNeeded: rng.next())
            if seq == 1000 { continue }
            if let bytes = history.packet(sequenceNumber: seq, now: qualityT0 + .seconds(1)) {
                _ = r.decide(sequenceNumber: seq, bytes: bytes.count, now: qualityT0)
            } else {
                r.recordMissing()
            }
        }
        #expect(r.resent == 0 && r.missing == r.requested && r.requested > 9_900)
        #expect(history.misses == r.missing)
    }

    @Test("lookups per second are bounded per viewer, so a NACK flood cannot hog the core")
    func floodBound() {
        var r = NackResponder()
        r.maxRequestsPerSecond = 100
        var admitted = 0
        for _ in 0..<1000 where r.admit(now: qualityT0) { admitted += 1 }
        #expect(admitted == 100 && r.suppressedFlood == 900)
        let nextSecond = r.admit(now: qualityT0 + .seconds(1))
        #expect(nextSecond)
    }
}
