import Reactor
import Testing

@testable import SFU

/// The timestamp step of a move between simulcast layers (`LayerTimestampStep`): through both
/// layers' sender reports, the new layer's keyframe lands on the old layer's timeline where its
/// capture time puts it, so the viewer's NTP↔RTP pairing (its A/V sync) holds across the move.
@Suite("Simulcast: the timestamp step of a move from the layers' sender reports")
struct LayerTimestampStepTests {
    /// The publisher's NTP clock at capture `frame` (30 frames a second from `base`).
    static func ntp(_ frame: Int, base: UInt64 = 0xE000_0000_0000_0000) -> UInt64 {
        base &+ UInt64(bitPattern: Int64(frame) * (Int64(1) << 32) / 30)
    }

    @Test("layers on different timestamp bases: the keyframe two captures after the last frame is 6000 ticks after it, whichever moments the reports were sent at and across a wrap")
    func stepFromReports() {
        for (fBase, qBase): (UInt32, UInt32) in [(1_000_000, 3_000_000_000), (0xFFFF_F000, 0x0000_1000), (77, 0xFFFF_0000)] {
            // The old layer's report at capture 5, the new one's at capture 9 (or before: 1).
            for qReportFrame in [9, 1] {
                let f = (ntpTimestamp: Self.ntp(5), rtpTimestamp: fBase &+ 15_000)
                let q = (ntpTimestamp: Self.ntp(qReportFrame), rtpTimestamp: qBase &+ UInt32(qReportFrame * 3000))
                let step = LayerTimestampStep.between(
                    last: fBase &+ 30_000, on: f, keyframe: qBase &+ 36_000, on: q, clockRate: 90_000, fallback: 3000)
                #expect(step.fromReports)
                #expect((5999...6001).contains(step.ticks), "\(step)")
            }
        }
    }

    @Test("a keyframe of the same capture as the last frame (or an earlier one) still gets a newer timestamp: one tick")
    func atLeastOneTick() {
        let f = (ntpTimestamp: Self.ntp(0), rtpTimestamp: UInt32(500))
        let q = (ntpTimestamp: Self.ntp(0), rtpTimestamp: UInt32(9000))
        let same = LayerTimestampStep.between(last: 3500, on: f, keyframe: 12_000, on: q, clockRate: 90_000, fallback: 3000)
        #expect(same.ticks == 1 && same.fromReports && same.reportTicks == 0)
        let earlier = LayerTimestampStep.between(last: 3500, on: f, keyframe: 9000, on: q, clockRate: 90_000, fallback: 3000)
        #expect(earlier.ticks == 1 && earlier.reportTicks == -3000)
    }

    @Test("without a report for either layer, or with reports that put the layers seconds apart, the step is the fallback")
    func fallback() {
        let f = (ntpTimestamp: Self.ntp(0), rtpTimestamp: UInt32(500))
        let q = (ntpTimestamp: Self.ntp(0), rtpTimestamp: UInt32(9000))
        for step in [
            LayerTimestampStep.between(last: 500, on: nil, keyframe: 9000, on: q, clockRate: 90_000, fallback: 3000),
            LayerTimestampStep.between(last: 500, on: f, keyframe: 9000, on: nil, clockRate: 90_000, fallback: 3000),
            // Three seconds of timestamps between two frames of one capture: a stale report.
            LayerTimestampStep.between(last: 500, on: f, keyframe: 9000 &+ 270_000, on: q, clockRate: 90_000, fallback: 3000),
            // NTP times a minute apart.
            LayerTimestampStep.between(
                last: 500, on: f, keyframe: 9000, on: (ntpTimestamp: Self.ntp(1800), rtpTimestamp: 9000), clockRate: 90_000, fallback: 3000),
        ] {
            #expect(step == LayerTimestampStep(ticks: 3000, fromReports: false, reportTicks: nil))
        }
    }
}
