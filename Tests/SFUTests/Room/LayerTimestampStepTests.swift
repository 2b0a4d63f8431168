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

    /// One packet of capture `frame` on a layer whose timestamps start at `base`.
    static func packet(frame: Int, base: UInt32, ssrc: UInt32, keyframe: Bool = false) throws -> [UInt8] {
        let descriptor: [UInt8] = [0x90, 0xC0, 0x80, UInt8(frame), UInt8(frame / 4), keyframe ? 0x9C : 0x9D, 0x01, 0x2A]
        return try buildRTP(seq: UInt16(200 + frame), ts: base &+ UInt32(frame * 3000), ssrc: ssrc, payload: descriptor)
    }

    @Test("a move gives the new layer's keyframe one frame after the last packet, and records the capture step the layers' sender reports give")
    func moveKeepsThePairing() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 64))
        let media = FanoutTemporalTests.media()
        let f = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        let q = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024, layer: 2, base: f)
        f.attach(source: media)
        q.attach(source: media)
        let (fBase, qBase): (UInt32, UInt32) = (0xFFFF_8000, 40_000)
        var now = Instant(nanoseconds: 5_000_000_000)
        func forward(_ bytes: [UInt8], to fanout: TrackFanout, keyframe: Bool = false) {
            var b = bytes
            b.withUnsafeMutableBytes { raw in
                guard let rtp = try? RTPPacket(parsing: raw) else { return }
                _ = fanout.forward(rtp, isKeyframe: keyframe, now: now, output: output)
            }
            fanout.flushPending(output: output)
        }
        // The viewer was on f up to capture 9; q's keyframe comes at capture 13 (its layer's
        // keyframe was asked for and took four frames to come).
        for frame in 0...9 { forward(try Self.packet(frame: frame, base: fBase, ssrc: 1), to: f) }
        for frame in 0...12 { forward(try Self.packet(frame: frame, base: qBase, ssrc: 2), to: q) }
        forward(try Self.packet(frame: 13, base: qBase, ssrc: 2, keyframe: true), to: q, keyframe: true)
        // Each layer's SR (mapped to its outbound timeline, as `forwardSenderReport` does),
        // sent at different captures and received at different times.
        f.senderReports.publisherReport(
            ntpTimestamp: Self.ntp(3), outboundRTPTimestamp: f.outboundTimestamp(fBase &+ 9000), now: now)
        now = now + .milliseconds(70)
        q.senderReports.publisherReport(
            ntpTimestamp: Self.ntp(11), outboundRTPTimestamp: q.outboundTimestamp(qBase &+ 33_000), now: now)
        now = now + .milliseconds(10)
        let fHistory = try #require(f.history), qHistory = try #require(q.history)
        let lastSequence = try #require(fHistory.newestSequenceNumber)
        let keySequence = try #require(qHistory.newestSequenceNumber)
        let last = try #require(fHistory.storedPacket(sequenceNumber: lastSequence))
        let key = try #require(qHistory.storedPacket(sequenceNumber: keySequence))
        let moved = RoomManager.moveOffsets(
            after: lastSequence, on: f, previous: StreamOffsets(), keyframe: key, start: keySequence, on: q, codec: .vp8,
            now: now)
        // One frame after the last packet (see `moveOffsets` for why not the reports' step).
        let keyOut = WireBytes.u32(key, 4) &+ moved.offsets.timestamp
        #expect(keyOut &- WireBytes.u32(last, 4) == RoomManager.layerSwitchFrameTicks)
        // The reports' step, four captures after the last frame, is kept as a figure.
        let reported = try #require(moved.step.reportTicks)
        #expect((11_999...12_001).contains(reported), "step \(reported)")
    }
}
