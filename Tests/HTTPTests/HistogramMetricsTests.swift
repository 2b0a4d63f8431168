import Reactor
import Testing

@testable import HTTP

@Suite("Histograms in /metrics")
struct HistogramMetricsTests {
    @Test("a histogram renders cumulative buckets ending in +Inf, then _sum and _count; cores sum")
    func rendersAndMerges() {
        var h = FixedHistogram(boundsSeconds: [0.1, 1])
        h.record(.milliseconds(50))
        h.record(.milliseconds(500))
        h.record(.seconds(2))
        var core0 = MetricsSnapshot()
        core0.addHistogram("x_seconds", help: "x", labels: [("route", "/a")], h)
        var core1 = MetricsSnapshot()
        core1.addHistogram("x_seconds", help: "x", labels: [("route", "/a")], h)
        core0.merge(core1)
        let text = core0.renderPrometheus()
        #expect(
            text == """
                # HELP x_seconds x
                # TYPE x_seconds histogram
                x_seconds_bucket{route="/a",le="0.1"} 2
                x_seconds_bucket{route="/a",le="1"} 4
                x_seconds_bucket{route="/a",le="+Inf"} 6
                x_seconds_sum{route="/a"} 5.1
                x_seconds_count{route="/a"} 6

                """)
        #expect(core0.histogramCount("x_seconds", labels: [("route", "/a")]) == 6)
    }

    @Test("request durations are a histogram per route template, whatever the path")
    func requestDurations() {
        let m = HTTPMetrics()
        m.record(route: "/api/whip/publish/:room", method: "POST", status: 201, durationNanoseconds: 3_000_000)
        m.record(route: "/api/whip/publish/:room", method: "POST", status: 409, durationNanoseconds: 300_000)
        m.record(route: "unmatched", method: "GET", status: 404, durationNanoseconds: 100_000)
        var s = MetricsSnapshot()
        m.contribute(to: &s)
        #expect(s.histogramCount("livesfu_http_request_duration_seconds", labels: [("route", "/api/whip/publish/:room")]) == 2)
        #expect(s.histogramCount("livesfu_http_request_duration_seconds", labels: [("route", "unmatched")]) == 1)
        #expect(s.value("livesfu_http_request_duration_seconds_bucket", labels: []) == nil)
        let text = s.renderPrometheus()
        #expect(text.contains("livesfu_http_request_duration_seconds_bucket{route=\"/api/whip/publish/:room\",le=\"0.0005\"} 1"))
        #expect(text.contains("livesfu_http_request_duration_seconds_bucket{route=\"/api/whip/publish/:room\",le=\"0.005\"} 2"))
    }
}
