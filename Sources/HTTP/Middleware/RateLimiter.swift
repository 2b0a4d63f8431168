import Reactor

/// A token bucket per client IP (`RATE_LIMIT_RPS` tokens a second, `RATE_LIMIT_BURST` at
/// most), with bounded memory.
///
/// **Per core**: each core has its own limiter and the kernel spreads connections over cores
/// with `SO_REUSEPORT`, so a client spreading requests over several connections can get up
/// to `cores ×` the configured rate. A client on one keep-alive connection (a browser, curl)
/// gets exactly the configured rate. Sharing buckets would put a lock or a mailbox hop on
/// every request; the per-core error is bounded and documented instead.
///
/// IPv6 clients are grouped by /64 (one host usually owns the whole /64); IPv4-mapped IPv6
/// addresses count as their IPv4 address.
///
/// Memory: at most `maxEntries` buckets. When full, buckets idle long enough to have
/// refilled are dropped first (losing nothing), then the least recently seen quarter.
public final class RateLimiter {
    public enum Decision: Equatable, Sendable {
        case allowed
        /// Refused; `retryAfterSeconds` (≥ 1) is when one token will be back.
        case limited(retryAfterSeconds: Int)
    }

    struct Key: Hashable {
        var hi: UInt64
        var lo: UInt64
        var v6: Bool
    }

    private struct Bucket {
        var tokens: Double
        var last: Instant
    }

    public let ratePerSecond: Double
    public let burst: Double
    public let maxEntries: Int
    private var buckets: [Key: Bucket] = [:]

    /// - Parameters:
    ///   - ratePerSecond: tokens added per second; 0 turns the limiter off.
    ///   - burst: bucket size; 0 means `max(1, ceil(ratePerSecond))`.
    public init(ratePerSecond: Double, burst: Int, maxEntries: Int = 10_000) {
        self.ratePerSecond = max(ratePerSecond, 0)
        self.burst = burst > 0 ? Double(burst) : max(1, ratePerSecond.rounded(.up))
        self.maxEntries = max(maxEntries, 1)
    }

    public var isEnabled: Bool { ratePerSecond > 0 }

    /// Buckets currently held.
    public var entryCount: Int { buckets.count }

    static func key(for address: SocketAddress) -> Key {
        if !address.isIPv6 { return Key(hi: address.hi, lo: 0, v6: false) }
        if address.hi == 0 && address.lo >> 32 == 0xFFFF {
            return Key(hi: address.lo & 0xFFFF_FFFF, lo: 0, v6: false)
        }
        return Key(hi: address.hi, lo: 0, v6: true)
    }

    /// Takes one token for `address` (nil, e.g. a Unix socket, is never limited).
    public func check(_ address: SocketAddress?, now: Instant) -> Decision {
        guard isEnabled, let address else { return .allowed }
        let key = Self.key(for: address)
        var bucket: Bucket
        if let existing = buckets[key] {
            bucket = existing
            let elapsed = Double((now - bucket.last).nanoseconds) / 1e9
            bucket.tokens = min(burst, bucket.tokens + elapsed * ratePerSecond)
            bucket.last = now
        } else {
            if buckets.count >= maxEntries { evict(now: now) }
            bucket = Bucket(tokens: burst, last: now)
        }
        let decision: Decision
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            decision = .allowed
        } else {
            let wait = (1 - bucket.tokens) / ratePerSecond
            decision = .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
        buckets[key] = bucket
        return decision
    }

    private func evict(now: Instant) {
        let refillSeconds = burst / ratePerSecond
        let full = Duration(nanoseconds: UInt64(min(refillSeconds, 1e9) * 1e9))
        buckets = buckets.filter { now - $0.value.last < full }
        if buckets.count >= maxEntries {
            let oldest = buckets.sorted { $0.value.last < $1.value.last }.prefix(max(1, maxEntries / 4))
            for (key, _) in oldest { buckets.removeValue(forKey: key) }
        }
    }
}
