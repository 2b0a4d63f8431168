import Glibc

/// Datagrams waiting to be sent: each one a pooled slot lent to the writer, its length and its
/// destination. A `UDPSocket` owns one and hands it to the kernel at the end of every loop
/// turn; code without a socket (a simulation, a test) makes one over a `BufferPool` and takes
/// the datagrams out with `drain`. Core-confined, never allocates, never blocks: a datagram
/// that does not fit is dropped and counted.
public final class DatagramQueue {
    /// The pool the slots are lent from.
    public let pool: BufferPool
    /// Most datagrams waiting at once.
    public let capacity: Int
    /// Datagrams refused: queue full, no pool slot, or a capacity larger than a slot.
    public var droppedCount: Int { dropped }
    /// Of `droppedCount`, those refused because the pool had no free slot.
    public var poolExhaustedCount: Int { poolExhausted }
    // Private storage behind read-only accessors: the optimizer then sees every access and
    // drops the dynamic exclusivity checks a public `var` would cost on each send.
    private var dropped = 0
    private var poolExhausted = 0
    private var count = 0

    /// The waiting datagrams, oldest first (`entries[0..<pendingCount]`).
    let entries: UnsafeMutablePointer<PendingDatagram>
    /// Datagrams waiting.
    public var pendingCount: Int { count }
    /// What empties this queue (its socket, or a simulation's network): asked to flush when
    /// the queue is full, and told of each drop. Unowned: the owner holds the queue.
    public unowned(unsafe) var owner: (any DatagramQueueOwner)?

    /// A queue of at most `capacity` datagrams over `pool`.
    public init(pool: BufferPool, capacity: Int = 256) {
        precondition(capacity > 0)
        self.pool = pool
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    deinit {
        for i in 0..<count { pool.give(entries[i].slot) }
        entries.deallocate()
    }

    /// Lends a pooled slot of `capacity` bytes to `write`, which fills it and returns the
    /// datagram's length (0: nothing to send, the slot goes back). False when nothing was
    /// queued: `write` returned 0, or the datagram was dropped (counted).
    @discardableResult
    @inline(__always)
    public func send(to address: SocketAddress, capacity: Int = 1500, _ write: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        if count == self.capacity {
            owner?.queueIsFull(self)
            if count == self.capacity { return drop(poolExhausted: false) }
        }
        guard capacity > 0, capacity <= pool.slotSize else { return drop(poolExhausted: false) }
        guard let slot = pool.take() else { return drop(poolExhausted: true) }
        let n = write(UnsafeMutableRawBufferPointer(start: pool.pointer(slot), count: capacity))
        guard n > 0, n <= capacity else {
            pool.give(slot)
            return false
        }
        entries[count] = PendingDatagram(slot: slot, length: Int32(n), address: address)
        count += 1
        return true
    }

    /// Queues a copy of `bytes` for `address`.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress) -> Bool {
        send(to: address, capacity: max(bytes.count, 1)) { buf in
            guard let src = bytes.baseAddress, bytes.count > 0 else { return 0 }
            buf.baseAddress!.copyMemory(from: src, byteCount: bytes.count)
            return bytes.count
        }
    }

    /// Takes every waiting datagram out, oldest first, and returns its slot to the pool after
    /// `body` saw it (the bytes are valid only during the call). For users without a socket.
    public func drain(_ body: (SocketAddress, UnsafeRawBufferPointer) -> Void) {
        // Entries queued by `body` itself wait for the next drain.
        let n = count
        for i in 0..<n {
            let e = entries[i]
            body(e.address, UnsafeRawBufferPointer(start: pool.pointer(e.slot), count: Int(e.length)))
        }
        release(n)
    }

    @inline(never)
    private func drop(poolExhausted: Bool) -> Bool {
        dropped &+= 1
        if poolExhausted { self.poolExhausted &+= 1 }
        owner?.queueDropped(self, poolExhausted: poolExhausted)
        return false
    }

    // MARK: for the socket that flushes it

    /// Forgets the first `k` entries (their slots now belong to someone else).
    func remove(_ k: Int) {
        guard k > 0 else { return }
        count -= k
        if count > 0 {
            // PendingDatagram is plain data: one memmove for the overlapping rest.
            memmove(entries, entries + k, count * MemoryLayout<PendingDatagram>.stride)
        }
    }

    /// Returns the slots of the first `k` entries to the pool and forgets them.
    func release(_ k: Int) {
        for i in 0..<k { pool.give(entries[i].slot) }
        remove(k)
    }

    /// Puts back datagrams whose send must be retried (their slots come back with them);
    /// false, and nothing taken, if they do not all fit.
    func append(_ datagrams: UnsafePointer<PendingDatagram>, count n: Int) -> Bool {
        guard count + n <= capacity else { return false }
        (entries + count).update(from: datagrams, count: n)
        count += n
        return true
    }
}

/// What empties a `DatagramQueue` (its `UDPSocket`, or a simulation's virtual network).
public protocol DatagramQueueOwner: AnyObject {
    /// The queue is full: hand what you can to the kernel now.
    func queueIsFull(_ queue: DatagramQueue)
    /// A datagram was refused.
    func queueDropped(_ queue: DatagramQueue, poolExhausted: Bool)
}
