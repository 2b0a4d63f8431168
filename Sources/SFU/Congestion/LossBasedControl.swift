import Glibc

/// The loss-based rate of draft-ietf-rmcat-gcc-02 §6: above 10 % loss the rate falls to
/// rate × (1 − loss / 2); below 2 % it grows 8 % a second; in between it holds. Loss is
/// measured over about a second of transport-cc feedback (at least `minimumPackets`
/// packets, at least `minimumPacketsPerSecond` for a slow stream) or taken from a receiver
/// report's fraction lost. After a decrease, only packets sent after it count (`countsFrom`):
/// the losses of what was sent before the rate came down are one burst, answered once.
/// Rates in bits/s; allocation-free.
struct LossBasedControl {
    static let minimumPackets = 50
    static let minimumPacketsPerSecond = 10
    static let intervalMicros: Int64 = 1_000_000
    static let increasePerSecond = 1.08

    private(set) var rate: Double?
    private var lost = 0
    private var received = 0
    private var windowStart: Int64?
    private var lastUpdate: Int64?
    /// Packets sent (server clock, µs) before this are not counted: sent before the last
    /// decrease.
    private(set) var countsFrom: Int64 = .min
    /// The last loss fraction used.
    private(set) var lossFraction = 0.0

    /// Counts one feedback's packets; applies the rule once a second's worth, or
    /// `minimumPackets`, have been seen.
    mutating func count(lost l: Int, received r: Int, now: Int64, rtt: Int64, ceiling: Double?, floor: Double = 0) {
        lost += l
        received += r
        let start = windowStart ?? now
        windowStart = start
        let n = lost + received
        guard n >= Self.minimumPackets || (now - start >= Self.intervalMicros && n >= Self.minimumPacketsPerSecond)
        else { return }
        let fraction = Double(lost) / Double(n)
        lost = 0
        received = 0
        windowStart = now
        apply(lossFraction: fraction, now: now, rtt: rtt, ceiling: ceiling, floor: floor)
    }

    /// Applies one loss fraction (0…1). `ceiling` bounds increases (the delay-based rate, or
    /// 1.5 × what was sent); `floor` bounds a decrease (0.85 × the rate the viewer was seen
    /// to receive, as the delay-based decrease: the path carried that much while losing).
    mutating func apply(lossFraction fraction: Double, now: Int64, rtt: Int64, ceiling: Double?, floor: Double = 0) {
        lossFraction = fraction
        guard var r = rate else { return }
        let dt = Double(min(max(now - (lastUpdate ?? now), 0), 2_000_000)) / 1e6
        lastUpdate = now
        if fraction > 0.10 {
            r = max(r * (1 - 0.5 * fraction), min(r, floor))
            countsFrom = now
        } else if fraction < 0.02 {
            r *= pow(Self.increasePerSecond, dt)
        }
        if let ceiling { r = min(r, max(ceiling, rate ?? ceiling)) }
        rate = r
    }

    /// A probe showed the path carries `r`: up to it, never down.
    mutating func raise(to r: Double) { rate = max(rate ?? r, r) }

    /// Starts (or restarts) from `value` when unset, and never sits above `ceiling` for
    /// longer than one update: the loss-based rate follows the delay-based one down.
    mutating func follow(_ value: Double) {
        rate = min(rate ?? value, value)
    }
}
