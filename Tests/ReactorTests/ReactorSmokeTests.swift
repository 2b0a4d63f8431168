import Testing
@testable import Reactor

@Test("socket addresses round-trip through sockaddr")
func socketAddressRoundTrip() {
    let a = SocketAddress(ip: "127.0.0.1", port: 5000)!
    #expect(a.description == "127.0.0.1:5000")
    let b = a.withSockAddr { SocketAddress(storage: UnsafeRawPointer($0), length: Int($1)) }
    #expect(a == b)
    let c = SocketAddress(ip: "::1", port: 9)!
    #expect(c.description == "[::1]:9")
    #expect(c.withSockAddr { SocketAddress(storage: UnsafeRawPointer($0), length: Int($1)) } == c)
    #expect(SocketAddress(ip: "not-an-ip", port: 1) == nil)
}

@Test("random bytes as a socket address never crash: they parse or give nil")
func socketAddressFromGarbage() {
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<20_000 {
        let n = Int.random(in: 0...40, using: &rng)
        var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
        if n >= 2, Bool.random(using: &rng) {
            // Half the time a plausible family, so the IPv4/IPv6 branches run on garbage too.
            bytes[0] = Bool.random(using: &rng) ? 2 : 10
            bytes[1] = 0
        }
        let a = bytes.withUnsafeBytes { raw in
            raw.baseAddress.flatMap { SocketAddress(storage: $0, length: raw.count) }
        }
        if let a { #expect(a.withSockAddr { SocketAddress(storage: UnsafeRawPointer($0), length: Int($1)) } == a) }
    }
}
