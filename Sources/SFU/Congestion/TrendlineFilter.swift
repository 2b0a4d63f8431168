/// The delay trend of draft-ietf-rmcat-gcc-02 §5.3 as Chromium computes it: the inter-group
/// delay variations are accumulated, smoothed exponentially, and a least-squares line is fit
/// through the last `windowSize` (arrival time, smoothed delay) points; its slope, scaled by
/// the number of samples seen and a gain, is what the over-use detector compares with its
/// threshold. A fixed window in a fixed array: allocation-free after `init`.
struct TrendlineFilter {
    static let windowSize = 20
    static let smoothing = 0.9
    static let gain = 4.0
    /// The slope is weighted by the samples seen, up to this many (a fresh filter is unsure).
    static let fullWeightSamples = 60

    private var times: [Double]
    private var delays: [Double]
    private var count = 0
    private var next = 0
    private var samples = 0
    private var firstArrival: Int64?
    private var accumulated = 0.0
    private var smoothed = 0.0
    /// The last slope (ms of delay per ms), before weighting.
    private(set) var slope = 0.0

    init() {
        times = [Double](repeating: 0, count: Self.windowSize)
        delays = [Double](repeating: 0, count: Self.windowSize)
    }

    mutating func reset() {
        count = 0
        next = 0
        samples = 0
        firstArrival = nil
        accumulated = 0
        smoothed = 0
        slope = 0
    }

    /// Samples taken so far (bounded).
    var sampleCount: Int { samples }

    /// Adds one group delta; returns the modified trend (the weighted, gained slope in ms).
    mutating func update(_ d: PacketGroupDeltas.Delta) -> Double {
        samples = min(samples + 1, 1000)
        let first = firstArrival ?? d.arrival
        firstArrival = first
        accumulated += d.arrivalMillis - d.sendMillis
        smoothed = Self.smoothing * smoothed + (1 - Self.smoothing) * accumulated
        times[next] = Double(d.arrival - first) / 1000
        delays[next] = smoothed
        next = (next + 1) % Self.windowSize
        count = min(count + 1, Self.windowSize)
        if count == Self.windowSize, let s = fitSlope() { slope = s }
        return Double(min(samples, Self.fullWeightSamples)) * slope * Self.gain
    }

    /// Least-squares slope of the window, nil when every point has the same time.
    private func fitSlope() -> Double? {
        var sumX = 0.0
        var sumY = 0.0
        for i in 0..<count {
            sumX += times[i]
            sumY += delays[i]
        }
        let meanX = sumX / Double(count)
        let meanY = sumY / Double(count)
        var num = 0.0
        var den = 0.0
        for i in 0..<count {
            let dx = times[i] - meanX
            num += dx * (delays[i] - meanY)
            den += dx * dx
        }
        return den == 0 ? nil : num / den
    }
}
