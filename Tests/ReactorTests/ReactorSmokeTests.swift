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
