import Synchronization

/// The directory's figures for `/metrics`: written by the directory thread once per Redis
/// request (never by a media core), read at scrape time. A Mutex is fine here: neither side
/// is on the media path.
public final class DirectoryMetrics: Sendable {
    /// Upper bounds (seconds) of the Redis latency histogram's buckets.
    public static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

    public struct Figures: Sendable, Equatable {
        /// Redis requests per bucket of `latencyBuckets` (not cumulative), the last = over.
        public var latencyCounts = [UInt64](repeating: 0, count: DirectoryMetrics.latencyBuckets.count + 1)
        public var latencySum: Double = 0
        /// Failed directory requests by kind: `io`, `server`, `reply`, `busy`.
        public var errors: [String: UInt64] = [:]
        /// Requests answered, by `request` (claim, locate, listing) and `result`.
        public var requests: [String: UInt64] = [:]
        public var registered = false
        public var linkUp = false
        public var claims = 0
        public var conflicts = 0
        public var heartbeats: UInt64 = 0

        public var latencyCount: UInt64 { latencyCounts.reduce(0, +) }
    }

    private let figures = Mutex(Figures())

    public init() {}

    public var current: Figures { figures.withLock { $0 } }

    func observe(seconds: Double) {
        let index = Self.latencyBuckets.firstIndex { seconds <= $0 } ?? Self.latencyBuckets.count
        figures.withLock {
            $0.latencyCounts[index] += 1
            $0.latencySum += seconds
        }
    }

    func error(_ kind: String) { figures.withLock { $0.errors[kind, default: 0] += 1 } }

    func answered(_ request: String, _ result: String) {
        figures.withLock { $0.requests["\(request)|\(result)", default: 0] += 1 }
    }

    func update(_ state: DirectoryState, beat: Bool = false) {
        figures.withLock {
            $0.registered = state.registered
            $0.linkUp = state.isUp
            $0.claims = state.claims.count
            $0.conflicts = state.conflicts
            if beat { $0.heartbeats += 1 }
        }
    }
}
