/// One core's HTTP counters: requests by route, method and status, and their total
/// duration. Plain integers touched only by their core; summed across cores at scrape time.
public final class HTTPMetrics {
    struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }

    private var requests: [Key: UInt64] = [:]
    private var durationNanoseconds: [String: UInt64] = [:]
    public private(set) var connectionsAccepted: UInt64 = 0
    public private(set) var connectionsOpen: Int = 0

    public init() {}

    /// Counts one answered request. `route` is the route pattern (bounded cardinality).
    public func record(route: String, method: String, status: Int, durationNanoseconds duration: UInt64) {
        requests[Key(route: route, method: method, status: status), default: 0] += 1
        durationNanoseconds[route, default: 0] &+= duration
    }

    public func connectionOpened() {
        connectionsAccepted += 1
        connectionsOpen += 1
    }

    public func connectionClosed() { connectionsOpen -= 1 }

    /// Requests counted for a route and status (tests).
    public func count(route: String, method: String, status: Int) -> UInt64 {
        requests[Key(route: route, method: method, status: status)] ?? 0
    }

    /// Adds this core's figures to a snapshot.
    public func contribute(to snapshot: inout MetricsSnapshot) {
        for (key, count) in requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            snapshot.add(
                "livesfu_http_requests_total", .counter, help: "HTTP requests answered, by route, method and status",
                labels: [("route", key.route), ("method", key.method), ("status", String(key.status))], value: Double(count))
        }
        for (route, ns) in durationNanoseconds.sorted(by: { $0.key < $1.key }) {
            snapshot.add(
                "livesfu_http_request_duration_seconds_total", .counter, help: "Time spent answering HTTP requests, by route",
                labels: [("route", route)], value: Double(ns) / 1e9)
        }
        snapshot.add("livesfu_http_connections_accepted_total", .counter, help: "HTTP connections accepted", value: Double(connectionsAccepted))
        snapshot.add("livesfu_http_connections_open", .gauge, help: "HTTP connections open", value: Double(connectionsOpen))
    }
}
