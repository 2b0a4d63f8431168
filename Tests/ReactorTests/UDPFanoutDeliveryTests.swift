import CShim
import Glibc
import Testing
@testable import Reactor

/// Plain non-blocking UDP sockets standing in for viewers: the test reads them itself, so
/// nothing on the loop under test competes with the sender for turns.
private final class ViewerSinks {
    let fds: [Int32]
    let addresses: [SocketAddress]

    init(count: Int) throws {
        var fds: [Int32] = []
        var addresses: [SocketAddress] = []
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            try #require(fd >= 0)
            let bound = loopback.withSockAddr { bind(fd, $0, $1) }
            try #require(bound == 0)
            var storage = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            fds.append(fd)
            addresses.append(try #require(withUnsafePointer(to: &storage) {
                SocketAddress(storage: UnsafeRawPointer($0), length: Int(len))
            }))
        }
        self.fds = fds
        self.addresses = addresses
    }

    deinit { for fd in fds { close(fd) } }

    /// Reads every viewer's queue dry; returns what each one got, as the first two bytes
    /// (the packet index) of each datagram.
    func drain() -> [[Int]] {
        var buffer = [UInt8](repeating: 0, count: 2048)
        return fds.map { fd in
            var got: [Int] = []
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n < 2 { break }
                got.append(Int(buffer[0]) << 8 | Int(buffer[1]))
            }
            return got
        }
    }
}

@Suite("UDP fan-out delivery", .serialized)
struct UDPFanoutDeliveryTests {
    /// What a room's fan-out does when a receive batch brings several packets at once: each
    /// packet is queued to every viewer within one loop turn, far more datagrams than one
    /// flush (or io_uring's in-flight batches) carries. Every one must arrive, in order.
    @Test("a fan-out of 8 packets to 300 viewers queued in one turn reaches every viewer, in order",
          arguments: BackendKind.available)
    func fanoutInOneTurn(backend: BackendKind) throws {
        let viewers = 300, packets = 8
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sinks = try ViewerSinks(count: viewers)
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        var accepted = 0
        for p in 0..<packets {
            let payload = patterned(p, length: 1100)
            for v in 0..<viewers where payload.withUnsafeBytes({ tx.send($0, to: sinks.addresses[v]) }) {
                accepted += 1
            }
        }
        #expect(accepted == viewers * packets)
        #expect(loop.run(until: { loop.counters.udpSent == viewers * packets }, timeout: .seconds(10)))
        #expect(loop.counters.udpSendDropped == 0)
        #expect(loop.run(until: { loop.pool.available == loop.pool.slotCount }, timeout: .seconds(2)))
        let got = sinks.drain()
        for v in 0..<viewers where got[v] != Array(0..<packets) {
            Issue.record("viewer \(v) got packets \(got[v])")
            break
        }
    }
}
