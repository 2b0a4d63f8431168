import Reactor

/// NTP timestamp arithmetic (RFC 3550 §4: 32.32 fixed-point seconds) as RTCP uses it.
public enum NTPTime {
    /// The middle 32 bits (16.16 seconds), as in LSR of a report block.
    @inlinable public static func middle32(_ ntp: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: ntp >> 16) }

    /// `ntp` advanced by `d`.
    public static func adding(_ d: Duration, to ntp: UInt64) -> UInt64 {
        let s = d.nanoseconds / 1_000_000_000
        let frac = ((d.nanoseconds % 1_000_000_000) << 32) / 1_000_000_000
        return ntp &+ (s << 32) &+ frac
    }

    /// A delay in 1/65536 s units (DLSR) as a duration.
    public static func duration(units65536 v: UInt32) -> Duration {
        Duration(nanoseconds: (UInt64(v) * 1_000_000_000) >> 16)
    }

    /// A duration in 1/65536 s units (DLSR), saturating.
    public static func units65536(_ d: Duration) -> UInt32 {
        guard d.nanoseconds < 65_536 * 1_000_000_000 else { return .max }
        return UInt32(clamping: (d.nanoseconds << 16) / 1_000_000_000)
    }

    /// RTP clock ticks in a duration at `clockRate` Hz, without overflow for long durations.
    public static func ticks(_ d: Duration, clockRate: UInt32) -> UInt64 {
        let s = d.nanoseconds / 1_000_000_000
        let ns = d.nanoseconds % 1_000_000_000
        return s &* UInt64(clockRate) &+ ns * UInt64(clockRate) / 1_000_000_000
    }
}
