import Testing
@testable import Reactor

@Suite("Datagram queue")
struct DatagramQueueTests {
    let a = SocketAddress(ip: "10.0.0.1", port: 5000)!
    let b = SocketAddress(ip: "10.0.0.2", port: 6000)!

    @Test("without a socket: datagrams come out of drain in order with their destinations, and every slot goes back")
    func drainWithoutSocket() {
        let pool = BufferPool(slotSize: 2048, slotCount: 8)
        let queue = DatagramQueue(pool: pool, capacity: 4)
        #expect(queue.send(to: a, capacity: 100) { buf in
            buf.copyBytes(from: [1, 2, 3])
            return 3
        })
        #expect([UInt8](repeating: 9, count: 50).withUnsafeBytes { queue.send($0, to: b) })
        #expect(!queue.send(to: a) { _ in 0 })  // nothing written: not queued, slot back
        #expect(queue.pendingCount == 2)
        #expect(pool.available == 6)
        var got: [(SocketAddress, [UInt8])] = []
        queue.drain { to, bytes in got.append((to, Array(bytes))) }
        #expect(got.count == 2)
        #expect(got[0].0 == a && got[0].1 == [1, 2, 3])
        #expect(got[1].0 == b && got[1].1 == [UInt8](repeating: 9, count: 50))
        #expect(queue.pendingCount == 0)
        #expect(pool.available == 8)
        #expect(queue.droppedCount == 0)
    }

    @Test("a full queue, an empty pool or a capacity beyond a slot drops the datagram and counts it")
    func drops() {
        let pool = BufferPool(slotSize: 2048, slotCount: 3)
        let queue = DatagramQueue(pool: pool, capacity: 2)
        #expect(!queue.send(to: a, capacity: 4096) { _ in 10 })
        #expect(queue.send(to: a) { _ in 10 })
        #expect(queue.send(to: a) { _ in 10 })
        #expect(!queue.send(to: a) { _ in 10 })  // full, and no socket to flush it
        queue.drain { _, _ in }
        let other = DatagramQueue(pool: pool, capacity: 8)
        for _ in 0..<3 { #expect(other.send(to: b) { _ in 10 }) }
        #expect(!other.send(to: b) { _ in 10 })  // pool empty
        #expect(queue.droppedCount == 2)
        #expect(other.droppedCount == 1 && other.poolExhaustedCount == 1)
        other.drain { _, _ in }
        #expect(pool.available == 3)
    }

    @Test("a datagram queued from inside drain waits for the next drain")
    func queueDuringDrain() {
        let pool = BufferPool(slotSize: 2048, slotCount: 4)
        let queue = DatagramQueue(pool: pool, capacity: 4)
        _ = queue.send(to: a) { _ in 1 }
        var seen = 0
        queue.drain { _, _ in
            seen += 1
            _ = queue.send(to: b) { _ in 2 }
        }
        #expect(seen == 1 && queue.pendingCount == 1)
        var second: [SocketAddress] = []
        queue.drain { to, _ in second.append(to) }
        #expect(second == [b] && pool.available == 4)
    }

    #if DEBUG
    @Test("in a debug build, using a loop's socket from another thread traps (assertOnLoop)")
    func offLoopUseTraps() async {
        await #expect(processExitsWith: .failure) {
            let loop = try EventLoop()
            let socket = try loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: DatagramCollector())
            nonisolated(unsafe) let shared = socket
            let t = try OSThread.spawn { _ = shared.send(to: shared.localAddress) { _ in 1 } }
            t.join()
        }
    }
    #endif
}
