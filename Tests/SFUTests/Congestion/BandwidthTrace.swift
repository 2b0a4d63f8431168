import Foundation
import Reactor

@testable import SFU

/// A trace of one viewer's transport-cc feedback as the server logged it
/// (`BANDWIDTH_TRACE_FILE`, `ViewerBandwidth.traceLine`), replayed into a fresh estimator:
/// each reported packet is first recorded in a `SentPacketLog` with its logged send time and
/// size (numbers in order, as the fan-out numbers them), then each feedback is fed at its
/// logged time. Files are in `Fixtures/` (see its README for how they were recorded).
struct BandwidthTrace {
    struct Packet {
        var sequence: UInt16
        var send: UInt64?
        var size: Int
        var arrival: Int64?
    }

    struct Feedback {
        var now: UInt64
        var rtt: UInt64?
        var packets: [Packet]
    }

    var feedbacks: [Feedback] = []

    init(fixture name: String, filePath: String = #filePath) {
        let dir = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = dir + "/Fixtures/\(name).trace"
        guard let data = FileManager.default.contents(atPath: path) else { fatalError("fixture missing: \(path)") }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("F ") {
            let f = line.split(separator: " ")
            guard f.count >= 4, let now = UInt64(f[2]) else { continue }
            var feedback = Feedback(now: now, rtt: UInt64(f[3]), packets: [])
            for p in f.dropFirst(4) {
                let parts = p.split(separator: ":")
                guard parts.count == 4, let seq = UInt16(parts[0]) else { continue }
                feedback.packets.append(
                    Packet(sequence: seq, send: UInt64(parts[1]), size: Int(parts[2]) ?? 0, arrival: Int64(parts[3])))
            }
            feedbacks.append(feedback)
        }
    }

    /// Replays the trace; `sample` is called after each feedback with its time (s from the
    /// first) and the estimate.
    func replay(_ sample: (Double, UInt64?) -> Void) -> BandwidthEstimator {
        var estimator = BandwidthEstimator()
        guard let first = feedbacks.first?.packets.first else { return estimator }
        let log = SentPacketLog(firstSequence: first.sequence)
        var next = first.sequence
        var lastSend: UInt64 = first.send ?? 0
        let t0 = feedbacks[0].now
        for f in feedbacks {
            // Record every number up to the newest this feedback reports, in order.
            for p in f.packets where SequenceNumber(p.sequence).distance(from: SequenceNumber(next)) >= 0 {
                while SequenceNumber(p.sequence).distance(from: SequenceNumber(next)) > 0 {
                    _ = log.recorder.record(bytes: 0, at: Instant(nanoseconds: lastSend * 1000))  // never reported
                    next &+= 1
                }
                lastSend = p.send ?? lastSend
                _ = log.recorder.record(bytes: p.size, at: Instant(nanoseconds: lastSend * 1000))
                next &+= 1
            }
            estimator.transportFeedback(
                log: log, rtt: f.rtt.map { .microseconds($0) }, now: Instant(nanoseconds: f.now * 1000)
            ) { body in
                for p in f.packets { body(p.sequence, p.arrival) }
            }
            sample(Double(f.now - t0) / 1e6, estimator.estimate)
        }
        return estimator
    }
}
