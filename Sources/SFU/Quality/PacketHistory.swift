import Reactor

/// The last few seconds of one track's outbound packets (already rewritten to the room's
/// SSRC, sequence numbers and timestamps, still plaintext), shared by every viewer of the
/// track to answer their NACKs.
///
/// Two rings, both allocated once at creation:
/// - the packets' bytes, back to back in an arena of `byteCapacity` bytes (a packet never
///   straddles its end), so a 100-byte audio packet costs 100 bytes, not a 1500-byte slot;
/// - a power-of-two table indexed by sequence number: packet `seq`'s entry is
///   `seq & (slotCount - 1)` and says where its bytes are.
///
/// Storing copies the bytes and allocates nothing. A lookup returns bytes only when the entry
/// holds exactly that sequence number, its bytes have not been overwritten since (the arena
/// has not come round to them), it is not older than the table span behind the newest
/// number, and it is younger than `maxAge` — so a stale entry left over from a gap, a future
/// number, or one a full 16-bit wrap ago is never answered with the wrong packet.
public final class PacketHistory {
    /// One entry: which sequence number it holds, where its bytes are, how long it is, and
    /// when it was stored (0 for empty).
    private struct Slot {
        var sequenceNumber: UInt16 = 0
        var length: UInt16 = 0
        var offset: UInt32 = 0
        var storedAt: UInt64 = 0
        /// Arena bytes written before this packet's (its place in the arena's whole history).
        var position: UInt64 = 0
    }

    public let slotCount: Int
    /// Largest packet stored; larger ones are not (counted).
    public let slotSize: Int
    /// Bytes of packets the arena holds (at least `slotSize`).
    public let byteCapacity: Int
    /// Packets older than this are not answered (a NACK for them is too late to help).
    public let maxAge: Duration
    private let mask: Int
    private let bytes: UnsafeMutableRawPointer
    private let slots: UnsafeMutablePointer<Slot>
    /// Arena bytes written so far (skipped tails included): a packet stored when this read
    /// `w` is intact while it reads at most `w + byteCapacity - slotSize`.
    public private(set) var written: UInt64 = 0
    /// Where the next packet goes.
    private var writeOffset = 0
    private var newest = SequenceNumber(0)
    private var hasNewest = false

    // Figures.
    public private(set) var stored: UInt64 = 0
    public private(set) var tooLarge: UInt64 = 0
    public private(set) var hits: UInt64 = 0
    public private(set) var misses: UInt64 = 0

    /// - Parameters:
    ///   - slotCount: a power of two; at least the packets of `maxAge` at the highest
    ///     expected packet rate (1024 covers 2 s at 500 packets/s).
    ///   - slotSize: the largest packet stored (an RTP packet after SRTP unprotect fits in 1500).
    ///   - byteCapacity: the arena's size; by default `slotCount` packets of `slotSize`.
    public init(slotCount: Int = 1024, slotSize: Int = 1500, byteCapacity: Int? = nil, maxAge: Duration = .seconds(3)) {
        precondition(
            slotCount > 0 && slotCount & (slotCount - 1) == 0 && slotCount <= 32768,
            "slotCount is a power of two up to 32768")
        precondition(slotSize >= 12 && slotSize <= Int(UInt16.max))
        self.slotCount = slotCount
        self.slotSize = slotSize
        self.byteCapacity = min(max(byteCapacity ?? slotCount * slotSize, slotSize), Int(UInt32.max))
        self.maxAge = maxAge
        mask = slotCount - 1
        bytes = UnsafeMutableRawPointer.allocate(byteCount: self.byteCapacity, alignment: 16)
        slots = UnsafeMutablePointer<Slot>.allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(), count: slotCount)
    }

    deinit {
        bytes.deallocate()
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    /// Copies a packet into the ring under its (outbound) sequence number. Returns false
    /// (and counts it) when the packet is larger than `slotSize`.
    @discardableResult
    public func store(_ packet: UnsafeRawBufferPointer, sequenceNumber seq: UInt16, now: Instant) -> Bool {
        store(packet, sequenceNumber: seq, storedAt: max(now.nanoseconds, 1))
    }

    private func store(_ packet: UnsafeRawBufferPointer, sequenceNumber seq: UInt16, storedAt: UInt64) -> Bool {
        guard packet.count <= slotSize, packet.count > 0, let base = packet.baseAddress else {
            tooLarge &+= 1
            return false
        }
        if writeOffset + packet.count > byteCapacity {
            // Skip the tail: a packet's bytes are always contiguous.
            written &+= UInt64(byteCapacity - writeOffset)
            writeOffset = 0
        }
        (bytes + writeOffset).copyMemory(from: base, byteCount: packet.count)
        // A stored time of 0 means "empty": real times are non-zero.
        slots[Int(seq) & mask] = Slot(sequenceNumber: seq, length: UInt16(packet.count), offset: UInt32(writeOffset),
                                      storedAt: storedAt, position: written)
        written &+= UInt64(packet.count)
        writeOffset += packet.count
        if !hasNewest || SequenceNumber(seq).isNewer(than: newest) {
            newest = SequenceNumber(seq)
            hasNewest = true
        }
        stored &+= 1
        return true
    }

    /// The entry for `seq` if it holds that packet and its bytes are intact (the arena has
    /// not written `byteCapacity` bytes since the packet's own).
    private func intact(_ seq: UInt16) -> Slot? {
        let slot = slots[Int(seq) & mask]
        guard hasNewest, slot.storedAt != 0, slot.sequenceNumber == seq,
              (0..<slotCount).contains(newest.distance(from: SequenceNumber(seq))),  // not a future number
              written &- slot.position <= UInt64(byteCapacity)
        else { return nil }
        return slot
    }

    /// The stored bytes of packet `seq`, or nil if it is not (or no longer) in the ring.
    /// The bytes stay valid until the arena comes round to them (at least `byteCapacity -
    /// slotSize` more bytes stored).
    public func packet(sequenceNumber seq: UInt16, now: Instant) -> UnsafeRawBufferPointer? {
        guard let slot = intact(seq),
              now.nanoseconds < slot.storedAt || now - Instant(nanoseconds: slot.storedAt) <= maxAge
        else {
            misses &+= 1
            return nil
        }
        hits &+= 1
        return UnsafeRawBufferPointer(start: bytes + Int(slot.offset), count: Int(slot.length))
    }

    /// The stored bytes of packet `seq` whatever their age, or nil if it is not (or no
    /// longer) in the ring: for a viewer's instant start, which replays the packets since the
    /// latest keyframe (older than the repair age, still the stream's present).
    public func storedPacket(sequenceNumber seq: UInt16) -> UnsafeRawBufferPointer? {
        guard let slot = intact(seq) else { return nil }
        return UnsafeRawBufferPointer(start: bytes + Int(slot.offset), count: Int(slot.length))
    }

    /// The bytes `store` last put under `seq`, without the checks of
    /// `packet(sequenceNumber:now:)`: for the fan-out of a packet it has just stored (valid
    /// until `byteCapacity - slotSize` more bytes were stored).
    public func justStored(sequenceNumber seq: UInt16) -> UnsafeRawBufferPointer {
        let slot = slots[Int(seq) & mask]
        return UnsafeRawBufferPointer(start: bytes + Int(slot.offset), count: Int(slot.length))
    }

    /// The newest sequence number stored, nil before the first packet.
    public var newestSequenceNumber: UInt16? { hasNewest ? newest.value : nil }

    /// Copies the packets `old` holds (with their stored times) into this ring, oldest
    /// number first, so that where this one is smaller the newest are kept: a history
    /// regrown for a higher packet rate keeps answering NACKs for the packets sent before.
    /// A fresh, empty ring there would leave those unanswerable — and a receiver such as
    /// aiortc, whose jitter buffer waits for a missing packet until 512 more have come,
    /// stalls for seconds.
    public func copyPackets(from old: PacketHistory) {
        guard old.hasNewest else { return }
        let storedBefore = stored
        defer { stored = storedBefore }  // a figure of packets the track sent, not of copies
        for back in stride(from: old.slotCount - 1, through: 0, by: -1) {
            let seq = old.newest.advanced(by: -back).value
            guard let slot = old.intact(seq) else { continue }
            _ = store(UnsafeRawBufferPointer(start: old.bytes + Int(slot.offset), count: Int(slot.length)),
                      sequenceNumber: seq, storedAt: slot.storedAt)
        }
    }

    /// Forgets everything (e.g. the track's stream was reset); storage is kept.
    public func removeAll() {
        for i in 0..<slotCount { slots[i] = Slot() }
        hasNewest = false
    }
}
