import Reactor

@testable import SFU

/// A documented link model that generates transport-cc feedback traces for the bandwidth
/// estimator's tests, deterministic from a seed (no wall clock):
///
/// - The sender is a video source that follows the estimate, as an encoder's target or a
///   layer choice would: every 33 ms it sends a frame of `rate / 30` bytes (rate =
///   the estimate, clamped to `minimumRate…maximumRate`; `maximumRate` before the first
///   estimate) as 1200-byte packets paced 1 ms apart, each numbered by the real
///   `SentPacketLog` recorder.
/// - The forward path is a bottleneck of `capacity(t)` bits/s with a FIFO queue of at most
///   `queueMillis` of delay (tail drop beyond), then `propagationMillis`; each packet is also
///   lost at random with probability `randomLoss(t)`.
/// - The viewer's side is the server's own `TransportCCFeedback` (the receiver half, on the
///   viewer's clock, offset by an arbitrary 12 345 s): every 50 ms it builds a real RTCP
///   transport-cc packet, which reaches the server `propagationMillis` later, is parsed by
///   `RTCPTransportFeedback` and fed to the estimator with a 2 × propagation RTT.
struct LinkModel {
    var capacity: (Double) -> Double
    var randomLoss: (Double) -> Double = { _ in 0 }
    var queueMillis = 300.0
    var propagationMillis = 20.0
    var minimumRate = 100_000.0
    var maximumRate = 1_500_000.0
    var seed: UInt64 = 1
    /// Called with each feedback packet's bytes before it is handed over: a test may corrupt
    /// it or add its own (returns the packets to deliver).
    var tamper: ((Double, [UInt8]) -> [[UInt8]])?

    struct Sample {
        var time: Double
        var estimate: UInt64?
        var sendRate: Double
    }

    /// Runs `seconds` and returns the estimate every 100 ms, and the estimator at the end.
    func run(seconds: Double) -> (samples: [Sample], estimator: BandwidthEstimator) {
        var rng = SplitMixRandom(seed: seed)
        let log = SentPacketLog(firstSequence: 65_000)  // wraps early on
        var estimator = BandwidthEstimator()
        var receiver = TransportCCFeedback(interval: .milliseconds(50))
        let viewerClock: UInt64 = 12_345_000_000_000
        let t0: UInt64 = 1_000_000_000
        func instant(_ seconds: Double) -> Instant { Instant(nanoseconds: t0 + UInt64(seconds * 1e9)) }

        // Events in time order: sends (generated per frame), arrivals, feedback deliveries.
        var arrivals: [(time: Double, seq: UInt16)] = []
        var feedbacks: [(time: Double, bytes: [UInt8])] = []
        var queueFree = 0.0  // when the bottleneck finishes what it holds
        var samples: [Sample] = []
        var nextFrame = 0.0
        var nextFeedback = 0.05
        var nextSample = 0.0
        var rate = maximumRate
        var time = 0.0
        let step = 0.0005
        while time < seconds {
            // Sends of the frame due now.
            if time >= nextFrame {
                rate = min(max(Double(estimator.estimate ?? UInt64(maximumRate)), minimumRate), maximumRate)
                let frameBytes = Int(rate / 8 / 30)
                var left = frameBytes
                var k = 0.0
                while left > 0 {
                    let size = min(1200, max(left, 100))
                    left -= size
                    let sendTime = time + k * 0.001
                    k += 1
                    let seq = log.recorder.record(bytes: size, at: instant(sendTime))
                    if Double(rng.next() % 1_000_000) / 1e6 < randomLoss(sendTime) { continue }
                    let c = capacity(sendTime)
                    let start = max(sendTime, queueFree)
                    if (start - sendTime) * 1000 > queueMillis { continue }  // tail drop
                    queueFree = start + Double(size * 8) / c
                    arrivals.append((queueFree + propagationMillis / 1000, seq))
                }
                nextFrame += 1.0 / 30
            }
            // Arrivals at the viewer.
            // FIFO and a constant propagation delay: arrivals are already in time order.
            while let a = arrivals.first, a.time <= time {
                arrivals.removeFirst()
                receiver.record(sequenceNumber: a.seq, arrival: Instant(nanoseconds: viewerClock + UInt64(a.time * 1e9)))
            }
            // The viewer's feedback, every 50 ms.
            if time >= nextFeedback {
                nextFeedback += 0.05
                var buf = [UInt8](repeating: 0, count: 1500)
                let n = buf.withUnsafeMutableBytes { raw -> Int in
                    var w = RTCPWriter(into: raw)
                    receiver.build(into: &w, senderSSRC: 1, mediaSSRC: 2, now: instant(time))
                    return (try? w.finish()) ?? 0
                }
                if n > 0 {
                    let bytes = Array(buf[0..<n])
                    for p in tamper?(time, bytes) ?? [bytes] {
                        feedbacks.append((time + propagationMillis / 1000, p))
                    }
                }
            }
            while let f = feedbacks.first, f.time <= time {
                feedbacks.removeFirst()
                var bytes = f.bytes
                bytes.withUnsafeMutableBytes { raw in
                    guard let compound = try? RTCPCompound(parsing: raw) else { return }
                    for packet in compound {
                        guard case .twcc(let fb) = packet else { continue }
                        estimator.transportFeedback(
                            log: log, rtt: .milliseconds(UInt64(2 * propagationMillis)), now: instant(time)
                        ) { fb.forEachPacket($0) }
                    }
                }
            }
            if time >= nextSample {
                samples.append(Sample(time: time, estimate: estimator.estimate, sendRate: rate))
                nextSample += 0.1
            }
            time += step
        }
        return (samples, estimator)
    }
}

extension Array where Element == LinkModel.Sample {
    /// Estimates (bits/s) of the samples within `range` seconds.
    func estimates(_ range: ClosedRange<Double>) -> [Double] {
        filter { range.contains($0.time) }.compactMap { $0.estimate.map { Double($0) } }
    }
}
