import Reactor
import Testing

@testable import HTTP

@Suite("Rate limiter")
struct RateLimiterTests {
    let a = SocketAddress(ip: "192.0.2.1", port: 1000)!
    let b = SocketAddress(ip: "192.0.2.2", port: 1000)!
    let t0 = Instant(nanoseconds: 5_000_000_000)

    @Test("a burst is allowed, then 429 with Retry-After, then recovery at the refill rate")
    func burstThenRecovery() {
        let limiter = RateLimiter(ratePerSecond: 2, burst: 3)
        for _ in 0..<3 { #expect(limiter.check(a, now: t0) == .allowed) }
        #expect(limiter.check(a, now: t0) == .limited(retryAfterSeconds: 1))
        #expect(limiter.check(b, now: t0) == .allowed)  // another client is unaffected
        #expect(limiter.check(a, now: t0 + .milliseconds(500)) == .allowed)
        #expect(limiter.check(a, now: t0 + .milliseconds(500)) == .limited(retryAfterSeconds: 1))
    }

    @Test("Retry-After rounds up to whole seconds at slow rates")
    func slowRate() {
        let limiter = RateLimiter(ratePerSecond: 0.1, burst: 1)
        #expect(limiter.check(a, now: t0) == .allowed)
        #expect(limiter.check(a, now: t0) == .limited(retryAfterSeconds: 10))
    }

    @Test("rate 0 turns the limiter off")
    func off() {
        let limiter = RateLimiter(ratePerSecond: 0, burst: 0)
        for _ in 0..<1000 { #expect(limiter.check(a, now: t0) == .allowed) }
        #expect(limiter.entryCount == 0)
    }

    @Test("memory stays bounded under a flood of distinct addresses")
    func bounded() {
        let limiter = RateLimiter(ratePerSecond: 1, burst: 5, maxEntries: 100)
        for i in 0..<10_000 {
            let addr = SocketAddress(ipv4: (10, UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)), port: 1)
            _ = limiter.check(addr, now: t0 + .milliseconds(UInt64(i)))
            #expect(limiter.entryCount <= 100)
        }
    }

    @Test("IPv6 clients share a bucket per /64; IPv4-mapped addresses count as IPv4")
    func ipv6Grouping() {
        let limiter = RateLimiter(ratePerSecond: 1, burst: 1)
        #expect(limiter.check(SocketAddress(ip: "2001:db8:1:2::1", port: 1), now: t0) == .allowed)
        #expect(limiter.check(SocketAddress(ip: "2001:db8:1:2::ffff", port: 2), now: t0) != .allowed)
        #expect(limiter.check(SocketAddress(ip: "2001:db8:1:3::1", port: 1), now: t0) == .allowed)
        #expect(limiter.check(SocketAddress(ip: "::ffff:192.0.2.1", port: 1), now: t0) == .allowed)
        #expect(limiter.check(a, now: t0) != .allowed)
    }
}
