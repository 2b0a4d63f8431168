/// The rate at which a viewer's transport-cc feedback says packets arrived, over the last
/// `window` of arrival time: what the path demonstrably carried. Bytes are summed in
/// `bucketCount` buckets of arrival time, so memory is fixed; the span divided by is never
/// under `minimumSpanMicros`, so a burst delivered back to back (a queue draining) does not
/// read as an impossible rate.
struct AckedBitrate {
    static let bucketMicros: Int64 = 50_000
    static let bucketCount = 10
    static let minimumSpanMicros: Int64 = 250_000

    private var starts: [Int64]
    private var bytes: [Int]
    private var newest: Int64?
    private var firstArrival: Int64?

    init() {
        starts = [Int64](repeating: -1, count: Self.bucketCount)
        bytes = [Int](repeating: 0, count: Self.bucketCount)
    }

    mutating func reset() { self = AckedBitrate() }

    /// A packet of `size` bytes arrived at `arrival` (viewer clock, µs). Arrivals older than
    /// the window are ignored.
    mutating func add(arrival: Int64, size: Int) {
        let index = arrival >= 0 ? arrival / Self.bucketMicros : (arrival - Self.bucketMicros + 1) / Self.bucketMicros
        if let n = newest, index <= n - Int64(Self.bucketCount) { return }
        newest = max(newest ?? index, index)
        firstArrival = min(firstArrival ?? arrival, arrival)
        let slot = Int(((index % Int64(Self.bucketCount)) + Int64(Self.bucketCount)) % Int64(Self.bucketCount))
        if starts[slot] != index {
            starts[slot] = index
            bytes[slot] = 0
        }
        bytes[slot] += size
    }

    /// Bits per second over the window, nil until the arrivals span `minimumSpanMicros`.
    var rate: Double? {
        guard let n = newest, let first = firstArrival else { return nil }
        var total = 0
        var oldest = n
        for i in 0..<Self.bucketCount where starts[i] > n - Int64(Self.bucketCount) && starts[i] <= n {
            total += bytes[i]
            oldest = min(oldest, starts[i])
        }
        let windowStart = max(oldest * Self.bucketMicros, first)
        let span = (n + 1) * Self.bucketMicros - windowStart
        guard (n + 1) * Self.bucketMicros - first >= Self.minimumSpanMicros else { return nil }
        return Double(total) * 8 * 1e6 / Double(max(span, Self.minimumSpanMicros))
    }
}
