import Glibc

/// The delay-based rate of draft-ietf-rmcat-gcc-02 §5.5: increase while the path is not
/// over-used (multiplicatively, 8 % a second, far from the last known capacity;
/// additively, about a packet per response time, near it), hold while it is under-used
/// (queues draining), and on over-use drop to `beta` × the rate that was actually
/// acknowledged. The rate never grows past 1.5 × the acknowledged rate + 10 kbit/s: above
/// what was sent, nothing was tested (a higher layer is reached by sending more, as
/// Chromium's sender probes). Rates in bits/s.
struct AIMDRateControl {
    enum State: Sendable, Equatable { case hold, increase, decrease }

    static let beta = 0.85
    static let multiplicativeIncreasePerSecond = 1.08
    static let packetBits = 1200.0 * 8

    let range: ClosedRange<Double>
    private(set) var rate: Double
    private(set) var state = State.increase
    /// Smoothed acknowledged rate at the last decreases (kbit/s) and its normalised variance:
    /// the path's capacity as last seen; nil when unknown or left behind.
    private var averageMax: Double?
    private var varianceMax = 0.4
    private var lastUpdate: Int64?
    private(set) var decreases: UInt64 = 0

    init(initial: Double, range: ClosedRange<Double>) {
        self.range = range
        rate = min(max(initial, range.lowerBound), range.upperBound)
    }

    /// One update per feedback: `usage` from the detector, `acked` the acknowledged rate,
    /// `now` the server's clock (µs), `rtt` the round trip (µs).
    mutating func update(usage: OveruseDetector.Usage, acked: Double, now: Int64, rtt: Int64) {
        switch usage {
        case .overusing: state = .decrease
        case .underusing: state = .hold
        case .normal: if state == .hold { state = .increase }
        }
        let dt = Double(min(max(now - (lastUpdate ?? now), 0), 1_000_000)) / 1e6
        lastUpdate = now
        let ackedKbps = acked / 1000
        switch state {
        case .hold:
            break
        case .increase:
            if let avg = averageMax, ackedKbps > avg + 3 * (varianceMax * avg).squareRoot() {
                averageMax = nil  // the path got faster than last seen: far from capacity again
            }
            var next: Double
            if averageMax != nil {
                let response = Double(rtt) / 1e6 + 0.1
                next = rate + max(1000, Self.packetBits / response) * dt
            } else {
                next = rate * pow(Self.multiplicativeIncreasePerSecond, dt)
            }
            let limit = 1.5 * acked + 10_000
            if next > limit { next = max(rate, limit) }
            rate = next
        case .decrease:
            if let avg = averageMax, ackedKbps < avg - 3 * (varianceMax * avg).squareRoot() {
                averageMax = nil
            }
            rate = min(rate, Self.beta * acked)
            updateMax(ackedKbps)
            decreases &+= 1
            state = .hold
        }
        rate = min(max(rate, range.lowerBound), range.upperBound)
    }

    /// A probe showed the path carries `r`: the rate goes up to it (never down), past the
    /// 1.5 × acknowledged limit, which an increase then holds (`max(rate, limit)`).
    mutating func raise(to r: Double) {
        rate = min(max(rate, r), range.upperBound)
    }

    private mutating func updateMax(_ kbps: Double) {
        let alpha = 0.05
        let avg = averageMax.map { (1 - alpha) * $0 + alpha * kbps } ?? kbps
        averageMax = avg
        let norm = max(avg, 1)
        varianceMax = min(max((1 - alpha) * varianceMax + alpha * (avg - kbps) * (avg - kbps) / norm, 0.4), 2.5)
    }
}
