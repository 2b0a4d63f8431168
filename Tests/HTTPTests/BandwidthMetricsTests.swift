import Testing

@testable import HTTP
@testable import SFU

@Suite("Viewers' bandwidth estimates in /metrics")
struct BandwidthMetricsTests {
    static func viewer(_ state: String, _ estimate: UInt64?, _ signal: String?, ignored: UInt64 = 0) -> RoomSnapshot.Viewer {
        var v = RoomSnapshot.Viewer(
            state: state, packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0, nacksAnswered: 0, rtxBytes: 0,
            plis: 0)
        v.bandwidthEstimate = estimate
        v.bandwidthSignal = signal
        v.bandwidthFeedbackIgnored = ignored
        return v
    }

    @Test("connected viewers' estimates are one histogram, counted by signal from a fixed set; cores add up")
    func histogramAndSignals() {
        var room = RoomSnapshot(
            name: "r", core: 0, publisher: nil, tracks: [], viewers: 4, connectedViewers: 3, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        room.viewerDetails = [
            Self.viewer("connected", 300_000, "transport-cc", ignored: 2), Self.viewer("connected", 3_000_000, "remb"),
            Self.viewer("connected", nil, nil), Self.viewer("new", 9_000_000, "transport-cc"),
        ]
        var core0 = MetricsSnapshot()
        BandwidthMetrics.contribute(to: &core0, snapshots: [room])
        var core1 = MetricsSnapshot()
        BandwidthMetrics.contribute(to: &core1, snapshots: [room])
        core0.merge(core1)
        #expect(core0.histogramCount("livesfu_viewer_bandwidth_estimate_bps") == 4)
        let text = core0.renderPrometheus()
        #expect(text.contains("livesfu_viewer_bandwidth_estimate_bps_bucket{le=\"250000\"} 0"))
        #expect(text.contains("livesfu_viewer_bandwidth_estimate_bps_bucket{le=\"500000\"} 2"))
        #expect(text.contains("livesfu_viewer_bandwidth_estimate_bps_bucket{le=\"4000000\"} 4"))
        #expect(core0.value("livesfu_viewer_bandwidth_signal", labels: [("signal", "transport-cc")]) == 2)
        #expect(core0.value("livesfu_viewer_bandwidth_signal", labels: [("signal", "remb")]) == 2)
        #expect(core0.value("livesfu_viewer_bandwidth_signal", labels: [("signal", "none")]) == 2)
        #expect(core0.value("livesfu_viewer_bandwidth_signal", labels: [("signal", "receiver-reports")]) == 0)
        #expect(core0.value("livesfu_viewer_bandwidth_feedback_ignored") == 4)
    }
}
