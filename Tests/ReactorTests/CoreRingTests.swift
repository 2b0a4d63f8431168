import Glibc
import Synchronization
import Testing
@testable import Reactor

@Suite("Rings between cores", .serialized)
struct CoreRingTests {
    @Test("messages come out whole and in order across the wrap; a full ring refuses and counts, never blocks")
    func orderWrapAndDrops() {
        let ring = CoreRing(from: 0, to: 1, bytes: 4096)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        var next: UInt64 = 0
        var expected: UInt64 = 0
        // 300 B bodies on a 4 KiB ring: many trips round, writes refused while it is full.
        for round in 0..<200 {
            var body = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 300)
            while body.withUnsafeBytes({ ring.write(header: next, body: $0) }) {
                next += 1
                body[0] &+= 1
            }
            for _ in 0..<(round % 5 + 1) {
                guard let (header, length) = ring.read(into: out) else { break }
                #expect(header == expected && length == 300)
                expected += 1
            }
        }
        while let (header, _) = ring.read(into: out) {
            #expect(header == expected)
            expected += 1
        }
        #expect(expected == next)
        #expect(ring.drops > 0 && ring.messages == next)
        #expect(!ring.hasMessages && ring.depthBytes == 0)
    }

    @Test("a core reads what another core writes, woken from its sleep by the batch's wake", arguments: BackendKind.available)
    func wakesASleepingCore(backend: BackendKind) throws {
        let received = Atomic<Int>(0)
        let group = try ReactorGroup(cores: 2, backend: backend, pin: false, ringBytes: 1 << 16) { loop in
            guard loop.index == 1 else { return }
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            loop.onRingMessages = { ring in
                while let (header, length) = ring.read(into: scratch) {
                    if header == UInt64(length) { received.add(1, ordering: .relaxed) }
                }
            }
        }
        defer {
            group.stop()
            group.wait()
        }
        let rings = try #require(group.rings)
        #expect(rings.inbound(to: 1).map(\.from) == [0])
        // Core 0 writes batches with pauses, so core 1 is asleep in its wait when most arrive.
        let batches = 50
        for b in 0..<batches {
            let done = Atomic<Bool>(false)
            group.handles[0].execute {
                let ring = rings.ring(from: 0, to: 1)!
                let body = [UInt8](repeating: 7, count: 100 + b)
                for _ in 0..<4 { _ = body.withUnsafeBytes { ring.write(header: UInt64(body.count), body: $0) } }
                ring.wakeConsumer()
                done.store(true, ordering: .releasing)
            }
            while !done.load(ordering: .acquiring) { usleep(100) }
            usleep(2000)
        }
        var waited = 0
        while received.load(ordering: .relaxed) < batches * 4, waited < 5000 {
            usleep(1000)
            waited += 1
        }
        #expect(received.load(ordering: .relaxed) == batches * 4)
    }
}
