/// The over-use detector of draft-ietf-rmcat-gcc-02 §5.4 with the adaptive threshold of
/// §5.5: the modified delay trend against a threshold that follows it slowly upwards and
/// quickly downwards, so a flow competing with loss-based TCP is not starved. Over-use is
/// signalled once the trend has stayed above the threshold for `overuseMillis` and is not
/// falling.
struct OveruseDetector {
    enum Usage: Sendable, Equatable { case normal, underusing, overusing }

    static let kUp = 0.0087
    static let kDown = 0.039
    static let overuseMillis = 10.0
    /// A trend this far above the threshold is an outlier: it does not move the threshold.
    static let maxAdaptMillis = 15.0
    static let thresholdRange = 6.0...600.0

    private(set) var threshold = 12.5
    private(set) var usage = Usage.normal
    private var overuseTime: Double?
    private var overuseCount = 0
    private var previousTrend = 0.0
    private var lastThresholdUpdate: Int64?

    mutating func reset() { self = OveruseDetector() }

    /// One modified trend after a group of `sendDeltaMillis`; `now` is the arrival (µs).
    mutating func detect(trend: Double, rawTrend: Double, sendDeltaMillis: Double, samples: Int, now: Int64) -> Usage {
        guard samples >= 2 else { return usage }
        if trend > threshold {
            // Half a group for the first sample over: it crossed somewhere within it.
            overuseTime = overuseTime.map { $0 + sendDeltaMillis } ?? sendDeltaMillis / 2
            overuseCount += 1
            if let t = overuseTime, t > Self.overuseMillis, overuseCount > 1, rawTrend >= previousTrend {
                overuseTime = 0
                overuseCount = 0
                usage = .overusing
            }
        } else if trend < -threshold {
            overuseTime = nil
            overuseCount = 0
            usage = .underusing
        } else {
            overuseTime = nil
            overuseCount = 0
            usage = .normal
        }
        previousTrend = rawTrend
        adaptThreshold(trend, now: now)
        return usage
    }

    private mutating func adaptThreshold(_ trend: Double, now: Int64) {
        let last = lastThresholdUpdate ?? now
        lastThresholdUpdate = now
        let magnitude = abs(trend)
        if magnitude > threshold + Self.maxAdaptMillis { return }
        let k = magnitude < threshold ? Self.kDown : Self.kUp
        let dt = Double(min(max(now - last, 0), 100_000)) / 1000
        threshold += k * (magnitude - threshold) * dt
        threshold = min(max(threshold, Self.thresholdRange.lowerBound), Self.thresholdRange.upperBound)
    }
}
