/// A Prometheus-style histogram with fixed bucket bounds, as plain integers owned by one
/// core (no atomics, no lock): `record` walks a dozen bounds and adds to one count, so it
/// fits a once-per-loop-turn or once-per-request path; nothing allocates after `init`.
/// Cores' histograms of the same bounds are added together at scrape time.
public struct FixedHistogram: Sendable, Equatable {
    /// Upper bounds (inclusive, ascending) in nanoseconds; a last implicit bucket is +Inf.
    public let boundsNanoseconds: [UInt64]
    /// Observations per bucket (not cumulative); `boundsNanoseconds.count + 1` of them.
    public private(set) var counts: [UInt64]
    public private(set) var sumNanoseconds: UInt64 = 0
    public private(set) var count: UInt64 = 0

    /// `bounds` in seconds, ascending.
    public init(boundsSeconds bounds: [Double]) {
        precondition(!bounds.isEmpty && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }, "bounds must ascend")
        boundsNanoseconds = bounds.map { UInt64(($0 * 1e9).rounded()) }
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    public mutating func record(nanoseconds value: UInt64) {
        var i = 0
        while i < boundsNanoseconds.count, value > boundsNanoseconds[i] { i += 1 }
        counts[i] &+= 1
        sumNanoseconds &+= value
        count &+= 1
    }

    public mutating func record(_ duration: Duration) { record(nanoseconds: duration.nanoseconds) }

    /// Adds another histogram of the same bounds (one from another core).
    public mutating func add(_ other: FixedHistogram) {
        precondition(other.boundsNanoseconds == boundsNanoseconds, "histograms of different bounds")
        for i in counts.indices { counts[i] &+= other.counts[i] }
        sumNanoseconds &+= other.sumNanoseconds
        count &+= other.count
    }

    /// Bounds in seconds, for rendering.
    public var boundsSeconds: [Double] { boundsNanoseconds.map { Double($0) / 1e9 } }

    // MARK: bucket sets used by livesfu (fixed, so series never depend on what clients do)

    /// One loop turn's work: 10 µs … 100 ms.
    public static let loopTurnBounds: [Double] = [
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1,
    ]
    /// An HTTP request from its parse to its answer: 0.5 ms … 2.5 s.
    public static let requestBounds: [Double] = [0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// A session's set-up milestones (offer to connected, to first media): 50 ms … 20 s.
    public static let setupBounds: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20]
}
