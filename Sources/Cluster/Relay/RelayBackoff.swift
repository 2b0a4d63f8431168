import Reactor

/// When an edge tries its origin again (`CLUSTER_MODE=edge`): after a relay ended or a
/// set-up failed, the next attempt waits `first`, doubling to `longest`; after `maxAttempts`
/// failures in a row the edge gives up on the room (its viewers then end with the publisher
/// grace period, as local viewers of a room without a publisher do). A relay that connected
/// starts the count again.
public struct RelayBackoff: Sendable, Equatable {
    public static let first: Duration = .milliseconds(500)
    public static let longest: Duration = .seconds(8)
    /// Failures in a row before giving up: 0.5 + 1 + 2 + 4 + 8 + 8 + 8 + 8 s ≈ 40 s of trying.
    public static let maxAttempts = 8

    public private(set) var failures = 0

    public init() {}

    /// An attempt failed (or a relay ended): how long to wait before the next one, nil to
    /// give up.
    public mutating func failed() -> Duration? {
        failures += 1
        guard failures <= Self.maxAttempts else { return nil }
        var delay = Self.first
        for _ in 1..<failures where delay < Self.longest {
            delay = Duration(nanoseconds: delay.nanoseconds * 2)
        }
        return delay < Self.longest ? delay : Self.longest
    }

    /// A relay connected: the next failure waits `first` again.
    public mutating func connected() { failures = 0 }
}
