import Reactor

/// The probe bytes one core may send its viewers (`LayerProbe`): a token bucket of
/// `bytesPerSecond`, holding at most one second's worth, so however many viewers want to go
/// up at once, probing adds at most that to the core's output (2 MB/s, 16 Mbit/s: about a
/// hundred 16 KiB bursts a second; viewers over it wait for the next check).
struct LayerProbeBudget {
    static let bytesPerSecond = 2_000_000

    private var tokens = Double(LayerProbeBudget.bytesPerSecond)
    private var refilledAt: Instant?
    /// Bursts refused for want of budget.
    private(set) var refused: UInt64 = 0

    /// Takes `bytes` for a burst; false (and counted) when the budget has not that much.
    mutating func take(_ bytes: Int, now: Instant) -> Bool {
        if let t = refilledAt {
            let seconds = Double((now - t).nanoseconds) / 1e9
            tokens = min(tokens + seconds * Double(Self.bytesPerSecond), Double(Self.bytesPerSecond))
        }
        refilledAt = now
        guard Double(bytes) <= tokens else {
            refused &+= 1
            return false
        }
        tokens -= Double(bytes)
        return true
    }
}
