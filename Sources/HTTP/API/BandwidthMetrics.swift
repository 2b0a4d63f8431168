import SFU

/// Viewers' send-side bandwidth estimates for `/metrics`, from a core's room snapshots: a
/// histogram of the current estimates (fixed bounds; cores' samples add up), the viewers
/// by the signal their estimate comes from (a fixed label set: `BandwidthSignal` and
/// `none`), and the feedback their estimators ignored. Nothing is kept between scrapes.
enum BandwidthMetrics {
    /// Bits per second: 100 kbit/s … 16 Mbit/s.
    static let bounds: [Double] = [100_000, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000]

    static func contribute(to s: inout MetricsSnapshot, snapshots: [RoomSnapshot]) {
        var counts = [UInt64](repeating: 0, count: bounds.count + 1)
        var sum = 0.0
        var bySignal: [String: Int] = ["none": 0]
        for signal in BandwidthSignal.allCases { bySignal[signal.rawValue] = 0 }
        var ignored: UInt64 = 0
        for room in snapshots {
            for v in room.viewerDetails where v.state == PeerSession.State.connected.rawValue {
                ignored &+= v.bandwidthFeedbackIgnored
                bySignal[v.bandwidthSignal ?? "none", default: 0] += 1
                guard let e = v.bandwidthEstimate else { continue }
                let value = Double(e)
                counts[bounds.firstIndex { value <= $0 } ?? bounds.count] += 1
                sum += value
            }
        }
        s.addHistogram(
            "livesfu_viewer_bandwidth_estimate_bps",
            help: "Connected viewers' current send-side bandwidth estimates (bits/s)", bounds: bounds, counts: counts,
            sum: sum)
        for signal in ["none"] + BandwidthSignal.allCases.map(\.rawValue) {
            s.add("livesfu_viewer_bandwidth_signal", .gauge,
                  help: "Connected viewers by the feedback their bandwidth estimate comes from",
                  labels: [("signal", signal)], value: Double(bySignal[signal] ?? 0))
        }
        s.add("livesfu_viewer_bandwidth_feedback_ignored", .gauge,
              help: "Feedback entries connected viewers' estimators ignored (unknown or repeated numbers, absurd times, implausible REMB)",
              value: Double(ignored))
    }
}
