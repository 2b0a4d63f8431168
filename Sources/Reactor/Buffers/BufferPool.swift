import Glibc

/// A core's pool of fixed-size packet buffers. Core-confined (no locks); a slot is an index
/// into one big allocation, so taking and returning one never allocates. When the pool is
/// empty `take()` returns nil and counts it: callers drop the packet, they never crash.
public final class BufferPool {
    /// Index of one slot.
    public typealias Slot = Int32

    /// Bytes in each slot.
    public let slotSize: Int
    /// Number of slots.
    public let slotCount: Int
    /// How many times `take()` found the pool empty.
    public private(set) var exhaustedCount = 0

    private let base: UnsafeMutableRawPointer
    private let freeList: UnsafeMutablePointer<Slot>
    private var freeCount: Int

    /// Creates a pool; the memory is reserved at once but the kernel only backs pages as
    /// they are first written, so an idle pool costs little RSS.
    public init(slotSize: Int = 2048, slotCount: Int = 4096) {
        precondition(slotSize >= 64 && slotCount > 0 && slotCount < Int(Int32.max))
        self.slotSize = (slotSize + 63) & ~63
        self.slotCount = slotCount
        base = UnsafeMutableRawPointer.allocate(byteCount: self.slotSize * slotCount, alignment: 64)
        freeList = .allocate(capacity: slotCount)
        // Lowest slots on top so a lightly loaded core touches few pages.
        for i in 0..<slotCount { freeList[i] = Slot(slotCount - 1 - i) }
        freeCount = slotCount
    }

    deinit {
        base.deallocate()
        freeList.deallocate()
    }

    /// Slots currently free.
    public var available: Int { freeCount }

    /// Takes a free slot, or nil (counted) when the pool is exhausted.
    @inline(__always)
    public func take() -> Slot? {
        guard freeCount > 0 else {
            exhaustedCount &+= 1
            return nil
        }
        freeCount -= 1
        return freeList[freeCount]
    }

    /// Returns a slot taken with `take()`.
    @inline(__always)
    public func give(_ slot: Slot) {
        precondition(freeCount < slotCount && slot >= 0 && Int(slot) < slotCount, "slot returned twice or foreign")
        freeList[freeCount] = slot
        freeCount += 1
    }

    /// The first byte of `slot`.
    @inline(__always)
    public func pointer(_ slot: Slot) -> UnsafeMutableRawPointer {
        base + Int(slot) * slotSize
    }

    /// The whole of `slot` as a buffer.
    @inline(__always)
    public func buffer(_ slot: Slot) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: pointer(slot), count: slotSize)
    }
}
