import Reactor

/// One core's HTTP counters: requests by route, method and status, and their total
/// duration. Plain integers touched only by their core; summed across cores at scrape time.
///
/// Every label value comes from a fixed set, whatever the client sends: the route is the
/// matched pattern or `unmatched`, the method one of `labelledMethods` or `other`, the status
/// a valid code (100–599) or `other`. The maps are bounded by that, and by `maxSeries` on top
/// as a guard against a caller passing something unbounded.
public final class HTTPMetrics {
    struct Key: Hashable {
        var route: String
        var method: String
        var status: String
    }

    /// Methods that get their own label value; any other is `other`.
    static let labelledMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]
    /// Most (route, method, status) series one core keeps; requests beyond fall into one
    /// `other` series. Routes × methods × statuses actually produced stay far below it.
    public static let maxSeries = 1024

    private var requests: [Key: UInt64] = [:]
    /// By route; bounded by the router's patterns (plus `unmatched` and `other`).
    private var durationNanoseconds: [String: UInt64] = [:]
    /// Request durations by route (same bound as `durationNanoseconds`), fixed buckets.
    private var durationHistograms: [String: FixedHistogram] = [:]
    public private(set) var connectionsAccepted: UInt64 = 0
    public private(set) var connectionsOpen: Int = 0

    public init() {}

    /// Counts one answered request. `route` is the route pattern or `unmatched`.
    public func record(route: String, method: String, status: Int, durationNanoseconds duration: UInt64) {
        var key = Key(route: route, method: Self.methodLabel(method), status: Self.statusLabel(status))
        if requests[key] == nil, requests.count >= Self.maxSeries { key = Key(route: "other", method: "other", status: "other") }
        requests[key, default: 0] += 1
        let durationKey = durationNanoseconds[route] != nil || durationNanoseconds.count < Self.maxSeries ? route : "other"
        durationNanoseconds[durationKey, default: 0] &+= duration
        durationHistograms[durationKey, default: FixedHistogram(boundsSeconds: FixedHistogram.requestBounds)]
            .record(nanoseconds: duration)
    }

    static func methodLabel(_ method: String) -> String { labelledMethods.contains(method) ? method : "other" }
    static func statusLabel(_ status: Int) -> String { (100...599).contains(status) ? String(status) : "other" }

    public func connectionOpened() {
        connectionsAccepted += 1
        connectionsOpen += 1
    }

    public func connectionClosed() { connectionsOpen -= 1 }

    /// Requests counted for a route and status (tests); `method` as labelled (`other` for unknown ones).
    public func count(route: String, method: String, status: Int) -> UInt64 {
        requests[Key(route: route, method: method, status: Self.statusLabel(status))] ?? 0
    }

    /// Series held (tests: the map's size).
    public var seriesCount: Int { requests.count }

    /// Adds this core's figures to a snapshot.
    public func contribute(to snapshot: inout MetricsSnapshot) {
        for (key, count) in requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            snapshot.add(
                "livesfu_http_requests_total", .counter, help: "HTTP requests answered, by route, method and status",
                labels: [("route", key.route), ("method", key.method), ("status", key.status)], value: Double(count))
        }
        for (route, ns) in durationNanoseconds.sorted(by: { $0.key < $1.key }) {
            snapshot.add(
                "livesfu_http_request_duration_seconds_total", .counter, help: "Time spent answering HTTP requests, by route",
                labels: [("route", route)], value: Double(ns) / 1e9)
        }
        for (route, histogram) in durationHistograms.sorted(by: { $0.key < $1.key }) {
            snapshot.addHistogram(
                "livesfu_http_request_duration_seconds", help: "HTTP request duration from parse to answer, by route template",
                labels: [("route", route)], histogram)
        }
        snapshot.add("livesfu_http_connections_accepted_total", .counter, help: "HTTP connections accepted", value: Double(connectionsAccepted))
        snapshot.add("livesfu_http_connections_open", .gauge, help: "HTTP connections open", value: Double(connectionsOpen))
    }
}
