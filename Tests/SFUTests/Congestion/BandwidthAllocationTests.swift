import CAllocCounter
import Reactor
import Testing

@testable import SFU

/// A viewer's feedback is handled on the media core: reading its transport-cc feedback
/// (`RTCPTransportFeedback.forEachPacket` and the estimator), REMB and receiver reports must
/// not allocate (CAllocCounter's malloc wrappers, this thread, in the unoptimised test build;
/// building the feedback is the test's own client side and is not counted).
@Suite("Bandwidth estimate allocations")
struct BandwidthAllocationTests {
    @Test("handling transport-cc feedback (parse included), REMB and receiver reports allocates nothing")
    func steadyState() throws {
        let viewer = ViewerBandwidth(transportCC: true)
        let log = try #require(viewer.log)
        var receiver = TransportCCFeedback(interval: .milliseconds(50))
        var buffer = [UInt8](repeating: 0, count: 1500)
        var now = Instant(nanoseconds: 1_000_000_000)
        var allocations: UInt64 = 0
        for round in 0..<200 {
            for k in 0..<10 {
                let seq = log.recorder.record(bytes: 1200, at: now + .microseconds(UInt64(k) * 500))
                if k != 3 { receiver.record(sequenceNumber: seq, arrival: now + .milliseconds(20 + UInt64(k))) }
            }
            now = now + .milliseconds(50)
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                var w = RTCPWriter(into: raw)
                receiver.build(into: &w, senderSSRC: 1, mediaSSRC: 2, now: now)
                return (try? w.finish()) ?? 0
            }
            buffer.withUnsafeMutableBytes { raw in
                guard let compound = try? RTCPCompound(parsing: UnsafeMutableRawBufferPointer(rebasing: raw[0..<n]))
                else { return }
                for case .twcc(let feedback) in compound {
                    let before = lsfu_alloc_count()
                    viewer.transportFeedback(feedback, rtt: .milliseconds(40), now: now)
                    if round >= 100 { allocations += lsfu_alloc_count() - before }  // after a warm-up
                }
            }
            let before = lsfu_alloc_count()
            viewer.estimator.remb(bitrate: 2_000_000, now: now)
            viewer.estimator.receiverReport(fractionLost: 3, bytesSent: UInt64(round) * 12_000, rtt: nil, now: now)
            if round >= 100 { allocations += lsfu_alloc_count() - before }
        }
        #expect(viewer.estimator.feedbacks == 200 && viewer.estimator.estimate != nil)
        #expect(viewer.estimator.packetsLost > 0)
        #expect(allocations == 0)
    }
}
