import Synchronization

/// One direction between two cores: a bounded, lock-free single-producer/single-consumer
/// queue of messages (`ByteRing`), written only by core `from` and read only by core `to`.
/// The producer never waits: a message that does not fit is refused and counted
/// (`drops`). Memory is allocated once; the kernel backs its pages only as they are used.
/// The producer wakes the consumer once per batch (`wakeConsumer`), not per message.
public final class CoreRing: Sendable {
    public let from: Int
    public let to: Int
    let ring: ByteRing
    private let consumer: Mailbox?
    private let dropped = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)

    /// `consumer`: the mailbox of core `to`, whose loop is woken (nil in tests: no loop).
    init(from: Int, to: Int, bytes: Int, consumer: Mailbox?) {
        self.from = from
        self.to = to
        ring = ByteRing(capacity: bytes)
        self.consumer = consumer
    }

    /// A ring with no loop to wake (tests and simulations drain it themselves).
    public convenience init(from: Int, to: Int, bytes: Int) {
        self.init(from: from, to: to, bytes: bytes, consumer: nil)
    }

    /// Producer: one message, an 8-byte header then `body`; false (counted) when full.
    @inline(__always)
    public func write(header: UInt64, body: UnsafeRawBufferPointer) -> Bool {
        if ring.write(header: header, body: body) {
            written.add(1, ordering: .relaxed)
            return true
        }
        dropped.add(1, ordering: .relaxed)
        return false
    }

    /// Producer, after a batch of `write`s: wakes core `to` if its loop sleeps (or is about
    /// to). The fence orders the batch's writes before the check of the consumer's sleeping
    /// flag, pairing with the consumer's check of `hasMessages` after it set that flag.
    public func wakeConsumer() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        consumer?.wakeIfSleeping()
    }

    /// Consumer: reads the next message into `buffer` (at least `maximumBody` bytes);
    /// returns its header and body length, nil when the ring is empty.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> (header: UInt64, length: Int)? {
        ring.read(header: buffer)
    }

    /// Whether a message is waiting (seq-cst: see `wakeConsumer`).
    public var hasMessages: Bool { ring.hasChunks }

    /// The largest body a message can carry.
    public var maximumBody: Int { ring.maximumChunk - 8 }

    /// Bytes queued now, messages refused because the ring was full, and messages written.
    public var depthBytes: Int { ring.queuedBytes }
    public var drops: UInt64 { dropped.load(ordering: .relaxed) }
    public var messages: UInt64 { written.load(ordering: .relaxed) }
    public var capacity: Int { ring.capacity }
}

/// Every core pair's `CoreRing`, made once when the cores start: `ring(from:to:)` for the
/// producer, `inbound(to:)` for the consumer's loop. Rings between every ordered pair of
/// cores are allocated up front (n·(n−1) of them, `bytes` each); only pages a pair really
/// uses become resident.
public final class CoreRings: Sendable {
    public let cores: Int
    private let rings: [CoreRing?]

    init(consumers: [Mailbox?], bytes: Int) {
        let n = consumers.count
        cores = n
        var all: [CoreRing?] = []
        for from in 0..<n {
            for to in 0..<n {
                all.append(from == to ? nil : CoreRing(from: from, to: to, bytes: bytes, consumer: consumers[to]))
            }
        }
        rings = all
    }

    /// Rings with no loops to wake, for tests and simulations.
    public convenience init(cores: Int, bytes: Int) {
        self.init(consumers: Array(repeating: nil, count: cores), bytes: bytes)
    }

    /// The ring core `from` writes to core `to` (nil for a core to itself).
    public func ring(from: Int, to: Int) -> CoreRing? {
        guard from >= 0, to >= 0, from < cores, to < cores else { return nil }
        return rings[from * cores + to]
    }

    /// The rings core `to` reads.
    public func inbound(to: Int) -> [CoreRing] {
        (0..<cores).compactMap { ring(from: $0, to: to) }
    }
}
