import Cluster

/// The cluster directory's figures in `/metrics` (process-wide, added once per scrape):
/// whether this node is registered, Redis request latency, directory errors and answers.
/// Label values are fixed enumerations (`kind`, `request`, `result`).
enum ClusterMetrics {
    static func contribute(to s: inout MetricsSnapshot, directory: ClusterDirectory) {
        let f = directory.metrics.current
        s.add("livesfu_directory_registered", .gauge, help: "1 while this node's entry is in the cluster directory", value: f.registered ? 1 : 0)
        s.add("livesfu_directory_connected", .gauge, help: "1 while Redis is reachable", value: f.linkUp ? 1 : 0)
        s.add("livesfu_directory_claims", .gauge, help: "Rooms this node holds in the directory", value: Double(f.claims))
        s.add(
            "livesfu_directory_conflicts_total", .counter,
            help: "Rooms found held by another node while publishing here (after a directory outage)", value: Double(f.conflicts))
        s.add("livesfu_directory_heartbeats_total", .counter, help: "Heartbeats attempted", value: Double(f.heartbeats))
        for kind in ["io", "server", "reply", "busy"] {
            s.add(
                "livesfu_directory_errors_total", .counter, help: "Failed directory requests by kind (io, server, reply, busy)",
                labels: [("kind", kind)], value: Double(f.errors[kind] ?? 0))
        }
        for (key, count) in f.requests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            s.add(
                "livesfu_directory_requests_total", .counter, help: "Directory requests from the cores, by request and result",
                labels: [("request", parts[0]), ("result", parts[1])], value: Double(count))
        }
        s.addHistogram(
            "livesfu_directory_redis_seconds", help: "Redis request latency (connects and commands)",
            bounds: DirectoryMetrics.latencyBuckets, counts: f.latencyCounts, sum: f.latencySum)
    }
}
