import Glibc
import Reactor

@testable import SFU

/// A closed loop for the automatic layer choice, on a virtual clock (no wall clock, no
/// sockets): one viewer of a three-layer simulcast stream behind a bottleneck, its real
/// estimator (`BandwidthEstimator`, fed real transport-cc feedback packets), its real
/// `LayerProbe` and the core's `LayerProbeBudget`, driven as `RoomManager` drives them:
///
/// - Every second, `LayerProbe.step` (the check `RoomManager.automaticLayers` runs); an aim
///   moves the viewer to that layer at the layer's next keyframe, `keyframeDelay` later.
/// - A probe burst is paced every 5 ms (the room's timer) with `bytesDue`, as packets the
///   size of the current layer's (duplicates of them, as `TrackFanout.sendDueProbes` sends)
///   numbered in the viewer's `SentPacketLog` like the fan-out's copies; when it has
///   all gone, `closeProbe`; after each feedback, `takeProbeOutcome` → `LayerProbe.finish`,
///   and a burst that showed the layer fits aims the viewer up at once
///   (`RoomManager.layerProbeMeasured`).
/// - The layer being watched sends a frame every 33 ms of `bitrate / 30` bytes, in packets of
///   at most 1 200 bytes, sent back to back (a frame leaves in one batch), plus 50 kbit/s of
///   audio in one packet per 20 ms.
/// - The path: a FIFO bottleneck of `capacity(t)` bits/s holding at most `queueBytes` (tail
///   drop; the interop test's HTB has a 30 kB FIFO), then `propagationMillis`. With
///   `shaperBurstBytes` it is a token bucket as HTB is: that many bytes pass at once after
///   an idle spell (tc's default for 400 kbit/s: rate / HZ + MTU ≈ 1 650 bytes).
/// - The viewer: the server's own `TransportCCFeedback` receiver half, a feedback packet
///   every 50 ms that reaches the server `propagationMillis` later.
struct LayerLoopModel {
    var capacity: (Double) -> Double
    var bitrates: [UInt64] = [2_000_000, 500_000, 150_000]
    /// The top layer's bitrate grows by this fraction a second until `growthUntil` seconds
    /// (a publisher ramping up as Chromium's does).
    var growth = 0.0
    var growthUntil = 0.0
    var pinned: Int?
    var queueBytes = 30_000
    var shaperBurstBytes = 0
    var propagationMillis = 20.0
    var keyframeDelay = 0.3
    /// Replaces a feedback packet's bytes (a forged one), given the time.
    var tamper: ((Double, [UInt8]) -> [UInt8])?

    struct Sample {
        var time: Double
        var layer: Int
        var estimate: UInt64?
    }

    struct Result {
        var samples: [Sample]
        var probe: LayerProbe
        var estimator: BandwidthEstimator
        var budget: LayerProbeBudget
        var switches: [(time: Double, to: Int)]
        /// Probe bytes sent, by second.
        var probeBytesBySecond: [Int]

        /// The first time at or after `t` the viewer is on `layer`.
        func firstOn(_ layer: Int, after t: Double) -> Double? {
            samples.first { $0.time >= t && $0.layer == layer }?.time
        }

        func layers(_ range: ClosedRange<Double>) -> Set<Int> {
            Set(samples.filter { range.contains($0.time) }.map(\.layer))
        }
    }

    func run(seconds: Double) -> Result {
        let log = SentPacketLog(firstSequence: 65_000)
        var estimator = BandwidthEstimator()
        var probe = LayerProbe()
        var budget = LayerProbeBudget()
        var receiver = TransportCCFeedback(interval: .milliseconds(50))
        let viewerClock: UInt64 = 12_345_000_000_000
        let t0: UInt64 = 1_000_000_000
        func instant(_ s: Double) -> Instant { Instant(nanoseconds: t0 + UInt64(s * 1e9)) }

        var layer = pinned ?? 0  // no estimate yet: the best layer
        var target: (layer: Int, at: Double)?
        var switches: [(Double, Int)] = []
        var arrivals: [(time: Double, seq: UInt16)] = []
        var feedbacks: [(time: Double, bytes: [UInt8])] = []
        var queue: [(done: Double, size: Int)] = []  // packets in the bottleneck, by when they leave it
        var queueFree = 0.0
        var tokens = Double(shaperBurstBytes)
        var tokensAt = 0.0
        var samples: [Sample] = []
        var probeBytes = [Int](repeating: 0, count: Int(seconds) + 1)
        var nextFrame = 0.0, nextAudio = 0.0, nextFeedback = 0.05, nextCheck = 1.0, nextPace = 0.0, nextSample = 0.0
        var time = 0.0
        let step = 0.0005

        func send(_ size: Int, at t: Double) {
            let seq = log.recorder.record(bytes: size, at: instant(t))
            queue.removeAll { $0.done <= t }
            let held = queue.reduce(0) { $0 + $1.size }
            if held + size > queueBytes { return }  // tail drop
            let start = max(t, queueFree)
            let c = capacity(t)
            tokens = min(Double(shaperBurstBytes), tokens + (start - tokensAt) * c / 8)
            tokensAt = start
            if tokens >= Double(size) {
                tokens -= Double(size)
                queueFree = start  // through at line rate
            } else {
                queueFree = start + (Double(size) - tokens) * 8 / c
                tokens = 0
                tokensAt = queueFree
            }
            queue.append((queueFree, size))
            arrivals.append((queueFree + propagationMillis / 1000, seq))
        }
        func aim(_ l: Int, at t: Double) {
            if l == layer {
                target = nil
            } else if target?.layer != l {
                target = (l, t + keyframeDelay)
            }
        }

        var bitrates = self.bitrates
        while time < seconds {
            if growth > 0 {
                bitrates[0] = UInt64(Double(self.bitrates[0]) * pow(1 + growth, min(time, growthUntil)))
            }
            if let t = target, time >= t.at {
                // The move: a burst in progress ends unmeasured (`RoomManager.layerChanged`).
                if case .idle = probe.phase {} else {
                    estimator.cancelProbe()
                    probe.finish(nil, now: instant(time))
                }
                probe.unsettle(now: instant(time))
                layer = t.layer
                target = nil
                switches.append((time, layer))
            }
            if time >= nextFrame {
                var left = Int(bitrates[layer] / 8 / 30)
                while left > 0 {
                    let size = min(1200, max(left, 100))
                    left -= size
                    send(size, at: time)
                }
                nextFrame += 1.0 / 30
            }
            if time >= nextAudio {
                send(125, at: time)
                nextAudio += 0.02
            }
            if time >= nextCheck {
                nextCheck += 1
                if target == nil {
                    switch probe.step(
                        bitrates: bitrates, current: layer, pinned: pinned, estimate: estimator.estimate,
                        decreases: estimator.delayDecreases, canProbe: estimator.signal == .transportCC,
                        budget: &budget, now: instant(time))
                    {
                    case .stay:
                        if probe.timedOut(now: instant(time)) {
                            estimator.cancelProbe()
                            probe.finish(nil, now: instant(time))
                        }
                    case .aim(let l): aim(l, at: time)
                    case .probe(_, let rate, _):
                        estimator.startProbe(first: log.nextSequence, targetRate: rate)
                        nextPace = time
                    }
                }
            }
            if time >= nextPace {
                nextPace += 0.005
                var due = probe.bytesDue(now: instant(time))
                let size = min(1200, max(100, Int(bitrates[layer] / 8 / 30)))
                while due > 0 {
                    send(size, at: time)
                    due -= size
                    probeBytes[Int(time)] += size
                    if probe.sent(size, now: instant(time)) {
                        estimator.closeProbe(last: log.newestSequence!)
                        break
                    }
                }
            }
            while let a = arrivals.first, a.time <= time {
                arrivals.removeFirst()
                receiver.record(sequenceNumber: a.seq, arrival: Instant(nanoseconds: viewerClock + UInt64(a.time * 1e9)))
            }
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
                    feedbacks.append((time + propagationMillis / 1000, tamper?(time, bytes) ?? bytes))
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
                if let outcome = estimator.takeProbeOutcome(), probe.finish(outcome, now: instant(time)),
                    pinned == nil, target == nil
                {
                    aim(LayerChoice.layer(bitrates: bitrates, current: layer, estimate: estimator.estimate), at: time)
                }
            }
            if time >= nextSample {
                samples.append(Sample(time: time, layer: layer, estimate: estimator.estimate))
                nextSample += 0.1
            }
            time += step
        }
        return Result(
            samples: samples, probe: probe, estimator: estimator, budget: budget,
            switches: switches.map { (time: $0.0, to: $0.1) }, probeBytesBySecond: probeBytes)
    }
}
