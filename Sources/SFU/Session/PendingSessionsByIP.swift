import Reactor

/// Sessions still being set up on one core (answer sent, not yet connected), counted per
/// client IP for `RoomManagerConfiguration.maxPendingSessionsPerIP`: one client cannot hold
/// every session slot with offers it never connects. IPv6 clients are grouped by /64 (one
/// host usually owns the whole /64), IPv4-mapped IPv6 counts as its IPv4 address, as in the
/// HTTP rate limiter. Bounded: an entry lives only while its IP has a session in set-up, so
/// there are never more entries than sessions on the core.
struct PendingSessionsByIP {
    struct Key: Hashable {
        var hi: UInt64
        var v6: Bool
    }

    private var counts: [Key: Int] = [:]

    static func key(for address: SocketAddress) -> Key {
        if !address.isIPv6 { return Key(hi: address.hi, v6: false) }
        if address.hi == 0 && address.lo >> 32 == 0xFFFF { return Key(hi: address.lo & 0xFFFF_FFFF, v6: false) }
        return Key(hi: address.hi, v6: true)
    }

    func count(for key: Key) -> Int { counts[key] ?? 0 }

    /// Client IPs with a session in set-up.
    var clientCount: Int { counts.count }

    mutating func add(_ key: Key) { counts[key, default: 0] += 1 }

    mutating func remove(_ key: Key) {
        guard let n = counts[key] else { return }
        counts[key] = n > 1 ? n - 1 : nil
    }
}
