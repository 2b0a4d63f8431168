/// A log-linear histogram of non-negative values (nanoseconds here): 32 linear sub-buckets
/// per power of two, so any recorded value is reported within ≈3%. Fixed size, records
/// without allocating, merges by addition.
public struct LatencyHistogram: Sendable {
    static let subBits = 5
    static let sub = 1 << subBits
    static let maxExponent = 48  // values up to 2^48 ns (≈3 days)
    public private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var maxValue: UInt64 = 0
    public private(set) var minValue: UInt64 = .max
    public private(set) var sum: Double = 0

    public init() {
        counts = Array(repeating: 0, count: (Self.maxExponent + 1) * Self.sub)
    }

    static func index(of v: UInt64) -> Int {
        if v < UInt64(sub) { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount  // ≥ subBits
        let shift = msb - subBits
        let exponent = min(shift + 1, maxExponent)
        let mantissa = Int((v >> UInt64(shift)) & UInt64(sub - 1))
        return exponent * sub + mantissa
    }

    /// The largest value that falls in bucket `i` (what percentiles report: never optimistic).
    static func upperBound(of i: Int) -> UInt64 {
        let exponent = i / sub
        let mantissa = UInt64(i % sub)
        if exponent == 0 { return mantissa }
        let shift = UInt64(exponent - 1)
        return ((UInt64(sub) + mantissa + 1) << shift) - 1
    }

    public mutating func record(_ v: UInt64) {
        counts[Self.index(of: v)] &+= 1
        count &+= 1
        if v > maxValue { maxValue = v }
        if v < minValue { minValue = v }
        sum += Double(v)
    }

    public mutating func merge(_ o: LatencyHistogram) {
        for i in 0..<counts.count { counts[i] &+= o.counts[i] }
        count &+= o.count
        maxValue = max(maxValue, o.maxValue)
        minValue = min(minValue, o.minValue)
        sum += o.sum
    }

    public mutating func reset() { self = LatencyHistogram() }

    /// The value at quantile `q` (0...1), as the upper bound of its bucket capped by the
    /// maximum seen; 0 when empty.
    public func value(atQuantile q: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<counts.count where counts[i] > 0 {
            seen &+= counts[i]
            if seen >= rank { return min(Self.upperBound(of: i), maxValue) }
        }
        return maxValue
    }

    /// `value(atQuantile:)` in milliseconds (the histogram holds nanoseconds).
    public func milliseconds(atQuantile q: Double) -> Double { Double(value(atQuantile: q)) / 1e6 }

    public var mean: Double { count > 0 ? sum / Double(count) : 0 }
}
