import Glibc

/// A point on the monotonic clock, in nanoseconds. Protocol code never reads a clock:
/// it is handed an `Instant`, so tests can drive it with a virtual one.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The current monotonic time; only the Reactor and test drivers call this.
    @inlinable public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Instant, d: Duration) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.nanoseconds)
    }
    @inlinable public static func - (a: Instant, b: Instant) -> Duration {
        a.nanoseconds >= b.nanoseconds
            ? Duration(nanoseconds: a.nanoseconds - b.nanoseconds) : Duration(nanoseconds: 0)
    }
    @inlinable public var milliseconds: UInt64 { nanoseconds / 1_000_000 }
    /// The earlier of two optional deadlines (nil: none).
    @inlinable public static func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
        guard let a else { return b }
        guard let b else { return a }
        return b < a ? b : a
    }
    public var description: String { "\(nanoseconds / 1_000_000)ms" }
}

/// A non-negative span of time in nanoseconds (cheaper than Swift.Duration's 128-bit form).
public struct Duration: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64
    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    @inlinable public static func milliseconds(_ v: UInt64) -> Duration { Duration(nanoseconds: v &* 1_000_000) }
    @inlinable public static func microseconds(_ v: UInt64) -> Duration { Duration(nanoseconds: v &* 1_000) }
    @inlinable public static func seconds(_ v: UInt64) -> Duration { Duration(nanoseconds: v &* 1_000_000_000) }
    @inlinable public static func < (a: Duration, b: Duration) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Duration, b: Duration) -> Duration { Duration(nanoseconds: a.nanoseconds &+ b.nanoseconds) }
    @inlinable public var milliseconds: UInt64 { nanoseconds / 1_000_000 }
    public var description: String { "\(nanoseconds / 1_000_000)ms" }
}
