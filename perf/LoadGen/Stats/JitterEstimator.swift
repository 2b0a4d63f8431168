/// Interarrival jitter (RFC 3550 §6.4.1 / A.8), in RTP timestamp units: J += (|D| - J)/16.
public struct JitterEstimator: Sendable {
    public let clockRate: UInt32
    private var lastTransit: Int64 = 0
    private var hasLast = false
    private var jitter: Double = 0

    public init(clockRate: UInt32) { self.clockRate = clockRate }

    /// Adds a packet's RTP timestamp and arrival time.
    public mutating func add(rtpTimestamp: UInt32, arrivalNanos: UInt64) {
        let arrival = Int64(truncatingIfNeeded: arrivalNanos / 1000 &* UInt64(clockRate) / 1_000_000)
        let transit = arrival &- Int64(rtpTimestamp)
        if hasLast {
            // Timestamps wrap at 32 bits: take the difference modulo 2^32, signed.
            let d = Int64(Int32(truncatingIfNeeded: transit &- lastTransit))
            jitter += (Double(abs(d)) - jitter) / 16
        }
        lastTransit = transit
        hasLast = true
    }

    /// Jitter in timestamp units (for a receiver report).
    public var units: UInt32 { UInt32(min(jitter, Double(UInt32.max))) }
    /// Jitter in milliseconds.
    public var milliseconds: Double { jitter * 1000 / Double(clockRate) }
}
