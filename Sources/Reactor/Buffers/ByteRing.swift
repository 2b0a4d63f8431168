import Synchronization

/// A bounded single-producer, single-consumer queue of byte chunks, lock-free: one thread
/// (a room's core) appends whole chunks, another (the recording writer) takes them in order.
/// The memory is allocated once; a chunk that does not fit is refused, never waited for, so
/// the producer is never blocked by a slow consumer. Each chunk is stored as a 4-byte length
/// and its bytes, wrapping around the end of the buffer.
public final class ByteRing: Sendable {
    /// Bytes the ring holds, a power of two.
    public let capacity: Int
    /// The largest chunk `write` accepts.
    public var maximumChunk: Int { capacity - Self.prefix }
    private static let prefix = 4
    nonisolated(unsafe) private let storage: UnsafeMutableRawPointer
    /// Bytes ever written and ever read: the producer owns `tail`, the consumer `head`.
    private let tail = Atomic<Int>(0)
    private let head = Atomic<Int>(0)

    /// `capacity` is rounded up to a power of two (at least 64 bytes).
    public init(capacity: Int) {
        var c = 64
        while c < capacity { c <<= 1 }
        self.capacity = c
        storage = .allocate(byteCount: c, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Bytes queued and not yet read (chunk prefixes included).
    public var queuedBytes: Int { tail.load(ordering: .relaxed) &- head.load(ordering: .relaxed) }

    /// Producer: appends `chunk` whole, or returns false (and writes nothing) when it does not fit.
    public func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        let needed = Self.prefix + chunk.count
        guard capacity - (t &- h) >= needed else { return false }
        var length = UInt32(truncatingIfNeeded: chunk.count).littleEndian
        withUnsafeBytes(of: &length) { copyIn($0, at: t) }
        copyIn(chunk, at: t &+ Self.prefix)
        tail.store(t &+ needed, ordering: .releasing)
        return true
    }

    /// Consumer: the length of the next chunk, nil when the ring is empty.
    public func nextChunkLength() -> Int? {
        let h = head.load(ordering: .relaxed)
        guard tail.load(ordering: .acquiring) != h else { return nil }
        var length: UInt32 = 0
        withUnsafeMutableBytes(of: &length) { copyOut($0, at: h) }
        return Int(UInt32(littleEndian: length))
    }

    /// Consumer: copies the next chunk into `buffer` (at least `nextChunkLength()` bytes) and
    /// frees its space; returns its length, nil when the ring is empty.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let length = nextChunkLength() else { return nil }
        precondition(buffer.count >= length, "the buffer is smaller than the chunk")
        let h = head.load(ordering: .relaxed)
        copyOut(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]), at: h &+ Self.prefix)
        head.store(h &+ Self.prefix &+ length, ordering: .releasing)
        return length
    }

    private func copyIn(_ bytes: UnsafeRawBufferPointer, at position: Int) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let offset = position & (capacity - 1)
        let first = min(bytes.count, capacity - offset)
        (storage + offset).copyMemory(from: base, byteCount: first)
        if first < bytes.count { storage.copyMemory(from: base + first, byteCount: bytes.count - first) }
    }

    private func copyOut(_ bytes: UnsafeMutableRawBufferPointer, at position: Int) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let offset = position & (capacity - 1)
        let first = min(bytes.count, capacity - offset)
        base.copyMemory(from: storage + offset, byteCount: first)
        if first < bytes.count { (base + first).copyMemory(from: storage, byteCount: bytes.count - first) }
    }
}
