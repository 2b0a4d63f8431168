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

    /// Producer: appends one chunk made of an 8-byte `header` and `body`, or returns false
    /// (writing nothing) when it does not fit (`CoreRing`'s messages).
    public func write(header: UInt64, body: UnsafeRawBufferPointer) -> Bool {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        let needed = Self.prefix + 8 + body.count
        guard capacity - (t &- h) >= needed else { return false }
        var prefix = (UInt32(truncatingIfNeeded: 8 + body.count).littleEndian)
        withUnsafeBytes(of: &prefix) { copyIn($0, at: t) }
        var head = header.littleEndian
        withUnsafeBytes(of: &head) { copyIn($0, at: t &+ Self.prefix) }
        copyIn(body, at: t &+ Self.prefix &+ 8)
        tail.store(t &+ needed, ordering: .releasing)
        return true
    }

    /// Consumer: takes the next chunk written by `write(header:body:)`, its body copied to
    /// `buffer` (at least `maximumChunk - 8` bytes); nil when the ring is empty.
    public func read(header buffer: UnsafeMutableRawBufferPointer) -> (header: UInt64, length: Int)? {
        guard let length = nextChunkLength(), length >= 8 else { return nil }
        let h = head.load(ordering: .relaxed)
        var header: UInt64 = 0
        withUnsafeMutableBytes(of: &header) { copyOut($0, at: h &+ Self.prefix) }
        let body = length - 8
        precondition(buffer.count >= body, "the buffer is smaller than the message")
        copyOut(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<body]), at: h &+ Self.prefix &+ 8)
        head.store(h &+ Self.prefix &+ length, ordering: .releasing)
        return (UInt64(littleEndian: header), body)
    }

    /// Whether a chunk is waiting (a sequentially consistent read, for a consumer deciding
    /// whether it may sleep).
    public var hasChunks: Bool {
        tail.load(ordering: .sequentiallyConsistent) != head.load(ordering: .relaxed)
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
