import Reactor
import Synchronization
import Testing

@Suite struct ByteRingTests {
    @Test func chunksComeOutInOrderAcrossTheWrap() {
        let ring = ByteRing(capacity: 64)
        var out = [UInt8](repeating: 0, count: 64)
        for round in 0..<100 {
            let a = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 20)
            let b = [UInt8](repeating: UInt8(truncatingIfNeeded: round &+ 1), count: 13)
            #expect(a.withUnsafeBytes { ring.write($0) })
            #expect(b.withUnsafeBytes { ring.write($0) })
            #expect(ring.nextChunkLength() == 20)
            #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 20)
            #expect(Array(out[0..<20]) == a)
            #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 13)
            #expect(Array(out[0..<13]) == b)
            #expect(ring.nextChunkLength() == nil)
        }
    }

    @Test func aChunkThatDoesNotFitIsRefusedWhole() {
        let ring = ByteRing(capacity: 64)
        #expect(ring.maximumChunk == 60)
        let big = [UInt8](repeating: 7, count: 61)
        #expect(!big.withUnsafeBytes { ring.write($0) })
        #expect(ring.queuedBytes == 0)
        let fits = [UInt8](repeating: 1, count: 40)
        #expect(fits.withUnsafeBytes { ring.write($0) })
        // 44 bytes queued: 20 more would need 24.
        #expect(![UInt8](repeating: 2, count: 20).withUnsafeBytes { ring.write($0) })
        #expect([UInt8](repeating: 2, count: 16).withUnsafeBytes { ring.write($0) })
        #expect(ring.queuedBytes == 64)
        var out = [UInt8](repeating: 0, count: 64)
        #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 40)
        #expect(out.withUnsafeMutableBytes { ring.read(into: $0) } == 16)
        #expect(Array(out[0..<16]) == [UInt8](repeating: 2, count: 16))
    }

    /// A real producer and consumer thread: every chunk arrives once, whole and in order,
    /// and a refused chunk is retried by the producer (as a test only: the recorder drops it).
    @Test func aProducerAndAConsumerThreadAgreeOnEveryByte() throws {
        let ring = ByteRing(capacity: 4096)
        let chunks = 50_000
        let received = Atomic<Int>(0)
        let mismatches = Atomic<Int>(0)
        let consumer = try OSThread.spawn {
            var out = [UInt8](repeating: 0, count: 4096)
            var next = 0
            while next < chunks {
                guard let n = out.withUnsafeMutableBytes({ ring.read(into: $0) }) else { continue }
                let expected = 1 + next % 300
                if n != expected || (n > 1 && out[0] != UInt8(truncatingIfNeeded: next)) || out[n - 1] != UInt8(truncatingIfNeeded: next &* 7) {
                    mismatches.add(1, ordering: .relaxed)
                }
                next += 1
            }
            received.store(next, ordering: .releasing)
        }
        var chunk = [UInt8](repeating: 0, count: 300)
        for i in 0..<chunks {
            let n = 1 + i % 300
            chunk[0] = UInt8(truncatingIfNeeded: i)
            chunk[n - 1] = UInt8(truncatingIfNeeded: i &* 7)
            while !chunk.withUnsafeBytes({ ring.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) {}
        }
        consumer.join()
        #expect(received.load(ordering: .acquiring) == chunks)
        #expect(mismatches.load(ordering: .relaxed) == 0)
    }
}
