import Testing
@testable import Reactor

@Suite("Buffer pool")
struct BufferPoolTests {
    @Test("slots are taken, returned and reused without overlap")
    func takeAndReturn() {
        let pool = BufferPool(slotSize: 2048, slotCount: 8)
        var slots: [BufferPool.Slot] = []
        for _ in 0..<8 { slots.append(pool.take()!) }
        #expect(Set(slots).count == 8)
        #expect(pool.available == 0)
        for s in slots {
            pool.buffer(s).initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: s))
        }
        for s in slots { #expect(pool.buffer(s).allSatisfy { $0 == UInt8(truncatingIfNeeded: s) }) }
        pool.give(slots[3])
        #expect(pool.take() == slots[3])
        #expect(pool.slotSize >= 2048)
    }

    @Test("an exhausted pool returns nil and counts it instead of crashing")
    func exhaustion() {
        let pool = BufferPool(slotSize: 2048, slotCount: 2)
        let a = pool.take(), b = pool.take()
        #expect(a != nil && b != nil)
        #expect(pool.take() == nil)
        #expect(pool.take() == nil)
        #expect(pool.exhaustedCount == 2)
        pool.give(a!)
        #expect(pool.take() == a)
    }
}
