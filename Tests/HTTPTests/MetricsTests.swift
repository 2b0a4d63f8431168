import Testing

@testable import HTTP

@Suite("Metrics")
struct MetricsTests {
    @Test("per-core counters sum into one Prometheus exposition")
    func folding() {
        let core0 = HTTPMetrics()
        let core1 = HTTPMetrics()
        core0.record(route: "/healthz", method: "GET", status: 200, durationNanoseconds: 1000)
        core1.record(route: "/healthz", method: "GET", status: 200, durationNanoseconds: 1000)
        core1.record(route: "/healthz", method: "GET", status: 429, durationNanoseconds: 1000)
        var a = MetricsSnapshot()
        core0.contribute(to: &a)
        var b = MetricsSnapshot()
        core1.contribute(to: &b)
        a.merge(b)
        #expect(a.value("livesfu_http_requests_total", labels: [("route", "/healthz"), ("method", "GET"), ("status", "200")]) == 2)
        let text = a.renderPrometheus()
        #expect(text.contains("# TYPE livesfu_http_requests_total counter\n"))
        #expect(text.contains(#"livesfu_http_requests_total{route="/healthz",method="GET",status="429"} 1"#))
    }

    @Test("labels a client can choose come from fixed sets, and the series map has an explicit bound")
    func boundedLabels() {
        let m = HTTPMetrics()
        m.record(route: "/healthz", method: "GET", status: 200, durationNanoseconds: 1)
        m.record(route: "unmatched", method: "BREW", status: 501, durationNanoseconds: 1)
        m.record(route: "unmatched", method: "PROPFIND", status: 501, durationNanoseconds: 1)
        m.record(route: "unmatched", method: "GET", status: 1234, durationNanoseconds: 1)
        #expect(m.count(route: "unmatched", method: "other", status: 501) == 2)
        #expect(m.seriesCount == 3)
        // A caller passing an unbounded route still cannot grow the maps past the bound.
        for i in 0..<(HTTPMetrics.maxSeries * 3) {
            m.record(route: "/r/\(i)", method: "GET", status: 200, durationNanoseconds: 1)
        }
        #expect(m.seriesCount == HTTPMetrics.maxSeries + 1)
        var s = MetricsSnapshot()
        m.contribute(to: &s)
        #expect(s.value("livesfu_http_requests_total", labels: [("route", "other"), ("method", "other"), ("status", "other")]) ?? 0 > 0)
        let durations = s.renderPrometheus().split(separator: "\n").filter { $0.hasPrefix("livesfu_http_request_duration_seconds_total{") }
        #expect(durations.count <= HTTPMetrics.maxSeries + 1)
    }

    @Test("label values escape backslash, quote and newline")
    func escaping() {
        var s = MetricsSnapshot()
        s.add("x_total", .counter, help: "a\nb\\c", labels: [("room", "a\"b\\c\nd")], value: 1.5)
        let text = s.renderPrometheus()
        #expect(text.contains(#"x_total{room="a\"b\\c\nd"} 1.5"#))
        #expect(text.contains(#"# HELP x_total a\nb\\c"#))
    }

    @Test("process figures are present and plausible")
    func process() {
        var s = MetricsSnapshot()
        ProcessMetrics.contribute(to: &s)
        #expect((s.value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((s.value("process_open_fds") ?? 0) >= 3)
        #expect((s.value("process_start_time_seconds") ?? 0) > 1_600_000_000)
        #expect(s.value("process_cpu_seconds_total") != nil)
    }
}
