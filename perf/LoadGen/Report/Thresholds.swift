/// Limits given on the command line; a run that misses any exits non-zero.
public struct Thresholds: Sendable {
    public var minDelivery: Double? = nil
    public var maxP99LatencyMs: Double? = nil
    public var maxJoinSeconds: Double? = nil
    public var maxFailed: Int = 0
    public var maxStalled: Int = 0

    public init() {}

    /// The misses, as lines a user reads; empty when the run passed.
    public func check(_ r: LoadReport) -> [String] {
        var out: [String] = []
        let c = r.counters
        if c.publishersConnected < r.publishersWanted {
            out.append("publishers connected \(c.publishersConnected) of \(r.publishersWanted)")
        }
        if c.viewersFailed > maxFailed { out.append("viewers failed \(c.viewersFailed) > \(maxFailed)") }
        if c.viewersWithMedia < r.viewersWanted - maxFailed {
            out.append("viewers receiving media \(c.viewersWithMedia) of \(r.viewersWanted)")
        }
        if r.stalledViewers > maxStalled { out.append("viewers stalled (no media in the last second) \(r.stalledViewers) > \(maxStalled)") }
        if c.missingLocation > 0 { out.append("\(c.missingLocation) answer(s) without a Location header (session cannot be ended)") }
        if c.layerRequestsFailed > 0 { out.append("layer requests failed for \(c.layerRequestsFailed) viewer(s)") }
        if c.deletesFailed > 0 { out.append("DELETE failed for \(c.deletesFailed) session(s)") }
        if let m = minDelivery, c.deliveryRatio < m {
            out.append("delivery \(Format.fixed(c.deliveryRatio * 100, 3))% < \(Format.fixed(m * 100, 3))%")
        }
        if let m = maxP99LatencyMs {
            // The steady state's (joins over); the whole run's when the run had none.
            let h = c.latencySteady.count > 0 ? c.latencySteady : c.latency
            let p99 = h.milliseconds(atQuantile: 0.99)
            let which = c.latencySteady.count > 0 ? "steady-state p99 latency" : "p99 latency"
            if h.count == 0 { out.append("no latency samples (no verified viewer got media)") }
            else if p99 > m { out.append("\(which) \(Format.fixed(p99, 3)) ms > \(Format.fixed(m, 3)) ms") }
        }
        if let m = maxJoinSeconds {
            if r.joinSpanSeconds > m { out.append("join span \(Format.fixed(r.joinSpanSeconds, 3)) s > \(Format.fixed(m, 3)) s") }
        }
        return out
    }
}
