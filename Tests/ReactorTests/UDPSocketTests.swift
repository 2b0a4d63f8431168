import CShim
import Glibc
import Synchronization
import Testing
@testable import Reactor

/// Collects datagrams (copied, for checking) on the test's loop.
final class DatagramCollector: UDPReceiver {
    var datagrams: [[UInt8]] = []
    var sources: [SocketAddress] = []
    var batches = 0
    func received(_ datagram: UnsafeMutableRawBufferPointer, from: SocketAddress, on socket: UDPSocket, now: Instant) {
        datagrams.append(Array(datagram))
        sources.append(from)
    }
    func batchEnded(on socket: UDPSocket, now: Instant) { batches += 1 }
}

let loopback = SocketAddress(ip: "127.0.0.1", port: 0)!

/// A datagram whose bytes say which one it is: [index hi, index lo, fill...].
func patterned(_ index: Int, length: Int) -> [UInt8] {
    var b = [UInt8](repeating: UInt8(truncatingIfNeeded: index &* 7), count: length)
    b[0] = UInt8(truncatingIfNeeded: index >> 8)
    b[1] = UInt8(truncatingIfNeeded: index)
    return b
}

@Suite("UDP socket", .serialized)
struct UDPSocketTests {
    @Test("a batch of datagrams of mixed sizes arrives intact on loopback", arguments: BackendKind.available)
    func batchSendReceive(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector(), quiet = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: loopback, receiver: quiet)
        let count = 300
        for i in 0..<count {
            let d = patterned(i, length: 20 + (i * 37) % 1400)
            #expect(d.withUnsafeBytes { tx.send($0, to: rx.localAddress) })
        }
        #expect(loop.run(until: { sink.datagrams.count == count }, timeout: .seconds(5)))
        let got = Set(sink.datagrams)
        for i in 0..<count { #expect(got.contains(patterned(i, length: 20 + (i * 37) % 1400))) }
        #expect(sink.sources.allSatisfy { $0 == tx.localAddress })
        #expect(sink.batches >= 1)
        #expect(loop.counters.udpSent == count)
        // Counters are folded once per batch (io_uring: once per turn), so they may lag a turn.
        #expect(loop.run(until: { loop.counters.udpReceived == count }, timeout: .seconds(1)))
        #expect(loop.pool.available == loop.pool.slotCount)  // every send slot came back
    }

    @Test("a GSO run of equal-sized datagrams (last shorter) arrives as separate datagrams", arguments: BackendKind.available)
    func gsoRun(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector(), quiet = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: loopback, receiver: quiet)
        try #require(tx.gsoEnabled, "kernel without UDP_SEGMENT")
        var expected: [[UInt8]] = []
        for i in 0..<40 { expected.append(patterned(i, length: 1200)) }
        expected.append(patterned(40, length: 500))
        for d in expected {
            #expect(tx.send(to: rx.localAddress, capacity: 1500) { buf in
                buf.copyBytes(from: d)
                return d.count
            })
        }
        #expect(loop.run(until: { sink.datagrams.count == expected.count }, timeout: .seconds(5)))
        #expect(sink.datagrams == expected)
        #expect(loop.counters.udpGSOSends >= 1)
        #expect(loop.counters.udpSendCalls <= 2)
    }

    @Test("a GRO receive is split back into the datagrams that were sent", arguments: BackendKind.available)
    func groSplit(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector(), quiet = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink, gro: true)
        let tx = try loop.openUDP(bind: loopback, receiver: quiet)
        try #require(rx.groEnabled && tx.gsoEnabled, "kernel without UDP_GRO/UDP_SEGMENT")
        var expected: [[UInt8]] = []
        for i in 0..<30 { expected.append(patterned(i, length: 1000)) }
        expected.append(patterned(30, length: 10))
        for d in expected { _ = d.withUnsafeBytes { tx.send($0, to: rx.localAddress) } }
        #expect(loop.run(until: { sink.datagrams.count == expected.count }, timeout: .seconds(5)))
        #expect(sink.datagrams == expected)
        // On loopback a GSO super-datagram reaches a GRO socket unsplit: we split it.
        #expect(loop.run(until: { loop.counters.udpGROReceives >= 1 }, timeout: .seconds(1)))
    }

    /// Records what `receivedAt` said during each delivery.
    final class ArrivalCollector: UDPReceiver {
        var arrivals: [(receivedAt: Instant, now: Instant)] = []
        func received(_ datagram: UnsafeMutableRawBufferPointer, from: SocketAddress, on socket: UDPSocket, now: Instant) {
            arrivals.append((socket.receivedAt, now))
        }
        func batchEnded(on socket: UDPSocket, now: Instant) {}
    }

    @Test("with timestamps a datagram's receivedAt is when the kernel queued it, not when the loop read it",
          arguments: BackendKind.available)
    func receiveTimestamps(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let stamped = ArrivalCollector(), plain = ArrivalCollector()
        let rxStamped = try loop.openUDP(bind: loopback, receiver: stamped, timestamps: true)
        let rxPlain = try loop.openUDP(bind: loopback, receiver: plain)
        #expect(rxStamped.timestampsEnabled && !rxPlain.timestampsEnabled)
        // A plain blocking socket, so the datagrams leave now whatever the loop's backend.
        let tx = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(tx >= 0)
        defer { Glibc.close(tx) }
        // The kernel turns stamping on from a work queue once the first socket asks for it
        // (until then a datagram is stamped when it is read), so allow a few rounds.
        var stampedArrival: (receivedAt: Instant, now: Instant)?
        var bounds = (before: Instant(nanoseconds: 0), sent: Instant(nanoseconds: 0))
        for _ in 0..<20 {
            stamped.arrivals.removeAll()
            plain.arrivals.removeAll()
            bounds.before = Instant.now()
            for rx in [rxStamped, rxPlain] {
                let n = [UInt8](repeating: 1, count: 100).withUnsafeBytes { b in
                    rx.localAddress.withSockAddr { sendto(tx, b.baseAddress, b.count, 0, $0, $1) }
                }
                #expect(n == 100)
            }
            bounds.sent = Instant.now()
            usleep(30_000)  // the datagrams wait in the kernel while the loop is not running
            #expect(loop.run(until: { stamped.arrivals.count == 1 && plain.arrivals.count == 1 }, timeout: .seconds(5)))
            stampedArrival = stamped.arrivals.first
            if let a = stampedArrival, a.now - a.receivedAt >= .milliseconds(25) { break }
        }
        let s = try #require(stampedArrival), p = try #require(plain.arrivals.first)
        #expect(s.receivedAt >= bounds.before && s.receivedAt <= bounds.sent + .milliseconds(5))
        #expect(s.now - s.receivedAt >= .milliseconds(25))
        #expect(p.receivedAt == p.now)
    }

    @Test("an oversized datagram is counted and dropped, the next one still arrives", arguments: BackendKind.available)
    func oversized(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        // A plain blocking socket sends a datagram larger than any receive buffer.
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(raw) }
        let big = [UInt8](repeating: 0xAB, count: 9000)
        let small = patterned(1, length: 100)
        for d in [big, small] {
            let r = d.withUnsafeBytes { b in
                rx.localAddress.withSockAddr { sendto(raw, b.baseAddress, b.count, 0, $0, $1) }
            }
            #expect(r == d.count)
        }
        #expect(loop.run(until: { sink.datagrams.count == 1 }, timeout: .seconds(5)))
        #expect(sink.datagrams == [small])
        #expect(loop.counters.udpTruncated == 1)
    }

    @Test("sends beyond the pool are dropped and counted, and the pool recovers after a flush", arguments: BackendKind.available)
    func poolExhaustion(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend, pool: BufferPool(slotSize: 2048, slotCount: 4))
        defer { loop.close() }
        let sink = DatagramCollector(), quiet = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: loopback, receiver: quiet)
        var accepted = 0
        for i in 0..<10 {
            let ok = tx.send(to: rx.localAddress) { buf in
                buf.copyBytes(from: patterned(i, length: 64))
                return 64
            }
            if ok { accepted += 1 }
        }
        #expect(accepted == 4)
        #expect(loop.counters.poolExhausted == 6)
        #expect(loop.counters.udpSendDropped == 6)
        #expect(loop.run(until: { sink.datagrams.count == 4 }, timeout: .seconds(5)))
        #expect(loop.run(until: { loop.pool.available == 4 }, timeout: .seconds(2)))
        #expect(tx.send(to: rx.localAddress) { _ in 10 })
    }

    @Test("a write that returns 0 cancels the send and returns its slot")
    func cancelledSend() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        #expect(!tx.send(to: tx.localAddress) { _ in 0 })
        #expect(tx.pendingSendCount == 0)
        #expect(loop.pool.available == loop.pool.slotCount)
    }

    @Test("a datagram whose control data does not fit is counted and dropped", arguments: BackendKind.available)
    func controlTruncated(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        // Ask for more ancillary data than the socket's control buffer holds.
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(rx.fd, SOL_SOCKET, 35 /* SO_TIMESTAMPNS */, &on, size)
        setsockopt(rx.fd, Int32(IPPROTO_IP), 8 /* IP_PKTINFO */, &on, size)
        setsockopt(rx.fd, Int32(IPPROTO_IP), 12 /* IP_RECVTTL */, &on, size)
        setsockopt(rx.fd, Int32(IPPROTO_IP), 13 /* IP_RECVTOS */, &on, size)
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(raw) }
        var b: UInt8 = 1
        _ = rx.localAddress.withSockAddr { sendto(raw, &b, 1, 0, $0, $1) }
        #expect(loop.run(until: { loop.counters.udpControlTruncated == 1 }, timeout: .seconds(5)))
        #expect(sink.datagrams.isEmpty)
    }

    @Test("a datagram the kernel refuses is counted and dropped; the rest of the queue goes out", arguments: BackendKind.available)
    func refusedSend(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: SocketAddress(ip: "0.0.0.0", port: 0)!, receiver: DatagramCollector())
        // Broadcast without SO_BROADCAST: EACCES, for a single datagram and for a GSO run.
        let broadcast = SocketAddress(ip: "255.255.255.255", port: 9)!
        let good = patterned(1, length: 100)
        _ = good.withUnsafeBytes { tx.send($0, to: broadcast) }
        _ = good.withUnsafeBytes { tx.send($0, to: rx.localAddress) }
        for _ in 0..<3 { _ = good.withUnsafeBytes { tx.send($0, to: broadcast) } }
        _ = good.withUnsafeBytes { tx.send($0, to: rx.localAddress) }
        #expect(loop.run(until: { sink.datagrams.count == 2 }, timeout: .seconds(5)))
        #expect(loop.run(until: { loop.pool.available == loop.pool.slotCount }, timeout: .seconds(2)))
        #expect(loop.counters.udpSendErrors >= 2)
        #expect(tx.pendingSendCount == 0)
    }

    @Test("when the kernel refuses GSO the socket falls back to single datagrams and nothing is lost", arguments: BackendKind.available)
    func gsoFallback(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        try #require(tx.gsoEnabled)
        // Linux refuses UDP_SEGMENT (EINVAL) on a socket without UDP checksums.
        var on: Int32 = 1
        setsockopt(tx.fd, SOL_SOCKET, 11 /* SO_NO_CHECK */, &on, socklen_t(MemoryLayout<Int32>.size))
        let run = (0..<10).map { patterned($0, length: 1000) }
        for d in run { _ = d.withUnsafeBytes { tx.send($0, to: rx.localAddress) } }
        #expect(loop.run(until: { sink.datagrams.count == run.count }, timeout: .seconds(5)))
        #expect(Set(sink.datagrams) == Set(run))
        #expect(!tx.gsoEnabled)
        #expect(loop.counters.udpGSOFallbacks == 1)
        #expect(loop.counters.udpSendDropped == 0)
        #expect(loop.run(until: { loop.pool.available == loop.pool.slotCount }, timeout: .seconds(2)))
    }

    @Test("EAGAIN and ENOBUFS on send are counted and retried next turn without blocking the loop")
    func sendPushBackRetried() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let sink = DatagramCollector()
        let rx = try loop.openUDP(bind: loopback, receiver: sink)
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        tx.injectedSendFailures = 1
        tx.injectedErrno = EAGAIN
        for i in 0..<5 { _ = patterned(i, length: 200).withUnsafeBytes { tx.send($0, to: rx.localAddress) } }
        tx.flush()
        #expect(tx.pendingSendCount == 5)  // pushed back, kept
        tx.injectedSendFailures = 2
        tx.injectedErrno = ENOBUFS
        #expect(loop.run(until: { sink.datagrams.count == 5 }, timeout: .seconds(2)))
        #expect(loop.counters.udpSendWouldBlock == 1)
        #expect(loop.counters.udpSendNoBuffers == 2)
        #expect(loop.counters.udpSendDropped == 0)
    }

    @Test("a send queue the kernel keeps refusing is dropped and counted after a bounded number of turns")
    func stalledQueueDropped() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let rx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        tx.injectedSendFailures = 1_000_000
        tx.injectedErrno = ENOBUFS
        for i in 0..<7 { _ = patterned(i, length: 200).withUnsafeBytes { tx.send($0, to: rx.localAddress) } }
        let start = Instant.now()
        #expect(loop.run(until: { tx.pendingSendCount == 0 }, timeout: .seconds(2)))
        #expect(Instant.now() - start < .seconds(1))
        #expect(loop.counters.udpSendDropped == 7)
        #expect(loop.counters.udpSendNoBuffers > UDPSocket.maxStalledTurns)
        #expect(loop.pool.available == loop.pool.slotCount)
    }

    @Test("datagrams move over IPv6 loopback too", arguments: BackendKind.available)
    func ipv6(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sink = DatagramCollector()
        let any6 = SocketAddress(ip: "::1", port: 0)!
        // Containers without IPv6 cannot bind ::1: nothing to test there.
        guard let rx = try? loop.openUDP(bind: any6, receiver: sink),
              let tx = try? loop.openUDP(bind: any6, receiver: DatagramCollector()) else { return }
        for i in 0..<10 { _ = patterned(i, length: 1200).withUnsafeBytes { tx.send($0, to: rx.localAddress) } }
        #expect(loop.run(until: { sink.datagrams.count == 10 }, timeout: .seconds(5)))
        #expect(sink.sources.allSatisfy { $0 == tx.localAddress && $0.isIPv6 })
    }

    @Test("a packet-major fanout still goes out as one GSO run per destination, in order", arguments: BackendKind.available)
    func fanoutGrouped(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        let sinks = (0..<3).map { _ in DatagramCollector() }
        let rxs = try sinks.map { try loop.openUDP(bind: loopback, receiver: $0) }
        let tx = try loop.openUDP(bind: loopback, receiver: DatagramCollector())
        try #require(tx.gsoEnabled)
        for p in 0..<8 {
            for (v, rx) in rxs.enumerated() {
                _ = patterned(v * 100 + p, length: 1000).withUnsafeBytes { tx.send($0, to: rx.localAddress) }
            }
        }
        #expect(loop.run(until: { sinks.allSatisfy { $0.datagrams.count == 8 } }, timeout: .seconds(5)))
        for (v, sink) in sinks.enumerated() {
            #expect(sink.datagrams == (0..<8).map { patterned(v * 100 + $0, length: 1000) })
        }
        #expect(loop.counters.udpGSOSends == 3)
        #expect(loop.counters.udpSendMessages == 3)  // one message per destination's run
        #expect(loop.counters.udpSent == 24)
    }

    @Test("grouping by destination is stable and keeps every datagram")
    func grouperProperty() {
        let grouper = DestinationGrouper(capacity: 512)
        let entries = UnsafeMutablePointer<PendingDatagram>.allocate(capacity: 512)
        defer { entries.deallocate() }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let n = Int.random(in: 0...512, using: &rng)
            let destinations = Int.random(in: 1...600, using: &rng)
            for i in 0..<n {
                let d = UInt16(Int.random(in: 0..<destinations, using: &rng))
                entries[i] = PendingDatagram(slot: Int32(i), length: 1, address: SocketAddress(ipv4: (10, 0, UInt8(d >> 8), UInt8(d & 0xFF)), port: d))
            }
            let before = (0..<n).map { entries[$0] }
            grouper.group(entries, count: n)
            let after = (0..<n).map { entries[$0] }
            #expect(after.map(\.slot).sorted() == before.map(\.slot))
            // Each destination's slots keep their order, and each destination is contiguous.
            var seen = Set<SocketAddress>()
            var previous: SocketAddress?
            var lastSlot: [SocketAddress: Int32] = [:]
            for e in after {
                if e.address != previous {
                    #expect(!seen.contains(e.address))
                    seen.insert(e.address)
                    previous = e.address
                }
                if let l = lastSlot[e.address] { #expect(l < e.slot) }
                lastSlot[e.address] = e.slot
            }
        }
    }

    @Test("one socket per core receives on its own port inside a group", arguments: BackendKind.available)
    func perCorePorts(backend: BackendKind) throws {
        final class Counter: UDPReceiver {
            func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on s: UDPSocket, now: Instant) {
                // Echo back so the test thread sees which core answered.
                var core = UInt8(truncatingIfNeeded: EventLoop.current!.index)
                _ = withUnsafeBytes(of: &core) { s.send($0, to: from) }
            }
            func batchEnded(on socket: UDPSocket, now: Instant) {}
        }
        let ports = Mutex<[UInt16]>([0, 0])
        let group = try ReactorGroup(cores: 2, backend: backend) { loop in
            let s = try loop.openUDP(bind: loopback, receiver: Counter())
            ports.withLock { $0[loop.index] = s.localAddress.port }
        }
        defer { group.stop(); group.wait() }
        let raw = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(raw) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        for core in 0..<2 {
            let to = SocketAddress(ip: "127.0.0.1", port: ports.withLock { $0[core] })!
            var b: UInt8 = 9
            _ = to.withSockAddr { sendto(raw, &b, 1, 0, $0, $1) }
            var answer: UInt8 = 255
            #expect(recv(raw, &answer, 1, 0) == 1)
            #expect(Int(answer) == core)
        }
    }
}
