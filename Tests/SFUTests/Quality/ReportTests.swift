import Reactor
import Testing

@testable import SFU

@Suite("Sender and receiver reports")
struct ReportTests {
    @Test("a publisher SR is mapped to the outbound timeline and extrapolated with the clock rate")
    func senderReportMapping() throws {
        var rewriter = StreamRewriter(clockRate: 90_000)
        _ = rewriter.rewrite(ssrc: 7, sequenceNumber: 100, timestamp: 1_000, now: qualityT0)
        _ = rewriter.rewrite(ssrc: 9, sequenceNumber: 5, timestamp: 50_000, now: qualityT0 + .seconds(1))  // reconnect
        let outTs = rewriter.outboundTimestamp(53_000)
        var sr = SenderReportRewriter(clockRate: 90_000)
        let ntp: UInt64 = 0xE000_0000_8000_0000  // …​.5 s
        sr.publisherReport(ntpTimestamp: ntp, outboundRTPTimestamp: outTs, now: qualityT0)
        #expect(sr.report(now: qualityT0)! == (ntp, outTs))
        let later = sr.report(now: qualityT0 + .milliseconds(500))!
        #expect(later.ntpTimestamp == 0xE000_0001_0000_0000)
        #expect(later.rtpTimestamp == outTs &+ 45_000)
        #expect(sr.report(now: qualityT0 + .seconds(11)) == nil)  // stale
        var bytes = try buildRTCP { w in
            let written = sr.write(into: &w, ssrc: 0x55, packetCount: 10, octetCount: 12_345, now: qualityT0)
            #expect(written == ntp)
        }
        let fields = try withRTCP(&bytes) { p -> [UInt64] in
            guard case .senderReport(let s) = p else { return [] }
            return [
                UInt64(s.ssrc), s.ntpTimestamp, UInt64(s.rtpTimestamp), UInt64(s.packetCount), UInt64(s.octetCount),
            ]
        }
        #expect(fields == [[0x55, ntp, UInt64(outTs), 10, 12_345]])
        sr.publisherReport(ntpTimestamp: 0, outboundRTPTimestamp: 1, now: qualityT0)
        #expect(sr.reportsRejected == 1)
        sr.reset()
        #expect(sr.report(now: qualityT0) == nil)
    }

    @Test("receiver report: loss, extended highest sequence across the wrap, LSR and DLSR")
    func receiverReport() {
        var rr = ReceiverReportGenerator(clockRate: 90_000)
        #expect(rr.reportBlock(ssrc: 1, now: qualityT0) == nil)
        var t = qualityT0
        // 65530 … 9 (16 numbers), 4 of them lost.
        var s: UInt16 = 65530
        for i in 0..<16 {
            if ![2, 5, 9, 12].contains(i) {
                rr.record(sequenceNumber: s, timestamp: UInt32(i) * 3000, arrival: t)
            }
            s &+= 1
            t = t + .milliseconds(33)
        }
        rr.recordSenderReport(ntpTimestamp: 0x0000_1234_5678_0000, now: qualityT0)
        let block = rr.reportBlock(ssrc: 77, now: qualityT0 + .milliseconds(500))!
        #expect(block.ssrc == 77)
        #expect(block.extendedHighestSequence == 0x1_0000 + 9)
        #expect(block.cumulativeLost == 4)
        #expect(block.fractionLost == 64)  // 4/16 × 256
        #expect(block.lastSenderReport == 0x1234_5678)
        #expect(block.delaySinceLastSenderReport == 32768)  // 0.5 s
        // Next interval: no loss.
        for _ in 0..<10 {
            rr.record(sequenceNumber: s, timestamp: 0, arrival: t)
            s &+= 1
        }
        let next = rr.reportBlock(ssrc: 77, now: t)!
        #expect(next.fractionLost == 0 && next.cumulativeLost == 4)
    }

    @Test("jitter is zero for a steady stream and grows with arrival noise")
    func jitter() {
        var steady = ReceiverReportGenerator(clockRate: 90_000)
        var noisy = ReceiverReportGenerator(clockRate: 90_000)
        var rng = SplitMixRandom(seed: 3)
        for i in 0..<200 {
            let at = qualityT0 + .milliseconds(UInt64(i) * 20)
            steady.record(sequenceNumber: UInt16(i), timestamp: UInt32(i) * 1800, arrival: at)
            noisy.record(
                sequenceNumber: UInt16(i), timestamp: UInt32(i) * 1800, arrival: at + .milliseconds(rng.next() % 10))
        }
        #expect(steady.jitter == 0)
        #expect(noisy.jitter > 90 && noisy.jitter < 900)  // a few ms in 90 kHz ticks
    }

    @Test("a restarted sequence is accepted after two packets, a lone bogus jump is ignored")
    func restart() {
        var rr = ReceiverReportGenerator(clockRate: 48_000)
        for i in 0..<10 { rr.record(sequenceNumber: UInt16(i), timestamp: 0, arrival: qualityT0) }
        rr.record(sequenceNumber: 30_000, timestamp: 0, arrival: qualityT0)  // bogus, alone
        rr.record(sequenceNumber: 10, timestamp: 0, arrival: qualityT0)
        #expect(rr.cumulativeLost == 0 && rr.extendedHighestSequence == 10)
        rr.record(sequenceNumber: 40_000, timestamp: 0, arrival: qualityT0)
        rr.record(sequenceNumber: 40_001, timestamp: 0, arrival: qualityT0)
        #expect(rr.restarts == 1 && rr.extendedHighestSequence == 40_001 && rr.cumulativeLost == 0)
    }

    @Test("viewer RR: RTT from the SR we sent and its DLSR; loss figures; bogus blocks counted")
    func viewerStats() {
        var v = ViewerReportStats()
        let ntp: UInt64 = 0xAAAA_BBBB_CCCC_DDDD
        v.senderReportSent(ntpTimestamp: ntp, now: qualityT0)
        // Viewer held it 100 ms (6553.6 units) and answered; it arrives 130 ms after sending.
        var block = RTCPReportBlock(
            ssrc: 5, fractionLost: 8, cumulativeLost: 12, extendedHighestSequence: 1, jitter: 30,
            lastSenderReport: NTPTime.middle32(ntp), delaySinceLastSenderReport: 6554)
        let rtt = v.receiverReport(block, now: qualityT0 + .milliseconds(130))
        #expect(rtt.map { $0.nanoseconds / 100_000 } == 299)  // ≈ 29.99 ms
        #expect(v.roundTripTime == rtt && v.fractionLost == 8 && v.cumulativeLost == 12 && v.jitter == 30)
        #expect(abs(v.lossFraction - 8.0 / 256) < 1e-9)
        // Unknown LSR, and a DLSR longer than the time since we sent: bogus.
        block.lastSenderReport = 0x1234
        #expect(v.receiverReport(block, now: qualityT0 + .seconds(1)) == nil)
        block.lastSenderReport = NTPTime.middle32(ntp)
        block.delaySinceLastSenderReport = 0xFFFF_FFFF
        #expect(v.receiverReport(block, now: qualityT0 + .seconds(1)) == nil)
        #expect(v.bogusReports == 2)
        // No SR seen yet by the viewer: loss only.
        block.lastSenderReport = 0
        #expect(v.receiverReport(block, now: qualityT0) == nil && v.bogusReports == 2)
    }

    @Test("NTP arithmetic: adding durations, 1/65536 s units, ticks for long durations")
    func ntp() {
        #expect(NTPTime.adding(.milliseconds(1500), to: 0) == 0x1_8000_0000)
        #expect(NTPTime.units65536(.seconds(1)) == 65536)
        #expect(NTPTime.duration(units65536: 32768) == .milliseconds(500))
        #expect(NTPTime.ticks(.seconds(100_000), clockRate: 90_000) == 9_000_000_000)
        #expect(NTPTime.middle32(0x1122_3344_5566_7788) == 0x3344_5566)
    }
}
