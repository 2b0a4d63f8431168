import Reactor

/// The last few seconds of one track's outbound packets (already rewritten to the room's
/// SSRC, sequence numbers and timestamps, still plaintext), shared by every viewer of the
/// track to answer their NACKs.
///
/// A power-of-two ring indexed by sequence number: packet `seq` lives in slot
/// `seq & (slotCount - 1)`. All storage is allocated once at creation; storing a packet
/// copies its bytes into its slot and allocates nothing. A lookup returns bytes only when the
/// slot holds exactly that sequence number, is not older than the ring span behind the
/// newest one, and is younger than `maxAge` — so a stale slot left over from a gap, a future
/// number, or one a full 16-bit wrap ago is never answered with the wrong packet.
public final class PacketHistory {
    /// One slot's bookkeeping: which sequence number it holds, how long it is, and when it
    /// was stored (0 for empty).
    private struct Slot {
        var sequenceNumber: UInt16 = 0
        var length: UInt16 = 0
        var storedAt: UInt64 = 0
    }

    public let slotCount: Int
    /// Largest packet a slot holds; larger ones are not stored (counted).
    public let slotSize: Int
    /// Packets older than this are not answered (a NACK for them is too late to help).
    public let maxAge: Duration
    private let mask: Int
    private let bytes: UnsafeMutableRawPointer
    private let slots: UnsafeMutablePointer<Slot>
    private var newest: UInt16 = 0
    private var hasNewest = false

    // Figures.
    public private(set) var stored: UInt64 = 0
    public private(set) var tooLarge: UInt64 = 0
    public private(set) var hits: UInt64 = 0
    public private(set) var misses: UInt64 = 0

    /// - Parameters:
    ///   - slotCount: a power of two; at least the packets of `maxAge` at the highest
    ///     expected packet rate (1024 covers 2 s at 500 packets/s).
    ///   - slotSize: bytes per slot (an RTP packet after SRTP unprotect fits in 1500).
    public init(slotCount: Int = 1024, slotSize: Int = 1500, maxAge: Duration = .seconds(3)) {
        precondition(
            slotCount > 0 && slotCount & (slotCount - 1) == 0 && slotCount <= 32768,
            "slotCount is a power of two up to 32768")
        precondition(slotSize >= 12 && slotSize <= Int(UInt16.max))
        self.slotCount = slotCount
        self.slotSize = slotSize
        self.maxAge = maxAge
        mask = slotCount - 1
        bytes = UnsafeMutableRawPointer.allocate(byteCount: slotCount * slotSize, alignment: 16)
        slots = UnsafeMutablePointer<Slot>.allocate(capacity: slotCount)
        slots.initialize(repeating: Slot(), count: slotCount)
    }

    deinit {
        bytes.deallocate()
        slots.deinitialize(count: slotCount)
        slots.deallocate()
    }

    /// Copies a packet into the ring under its (outbound) sequence number. Returns false
    /// (and counts it) when the packet does not fit a slot.
    @discardableResult
    public func store(_ packet: UnsafeRawBufferPointer, sequenceNumber seq: UInt16, now: Instant) -> Bool {
        guard packet.count <= slotSize, packet.count > 0, let base = packet.baseAddress else {
            tooLarge &+= 1
            return false
        }
        let i = Int(seq) & mask
        (bytes + i * slotSize).copyMemory(from: base, byteCount: packet.count)
        // A stored time of 0 means "empty": keep real times non-zero.
        slots[i] = Slot(sequenceNumber: seq, length: UInt16(packet.count), storedAt: max(now.nanoseconds, 1))
        if !hasNewest || StreamRewriter.isNewer(seq, than: newest) {
            newest = seq
            hasNewest = true
        }
        stored &+= 1
        return true
    }

    /// The stored bytes of packet `seq`, or nil if it is not (or no longer) in the ring.
    /// The bytes stay valid until the slot is overwritten (the next `store` may do so).
    public func packet(sequenceNumber seq: UInt16, now: Instant) -> UnsafeRawBufferPointer? {
        guard hasNewest else {
            misses &+= 1
            return nil
        }
        // Behind the newest by less than the ring span (a future number is "behind" by
        // almost 2^16 and is refused here too).
        let behind = Int(newest &- seq)
        let slot = slots[Int(seq) & mask]
        guard behind < slotCount, slot.storedAt != 0, slot.sequenceNumber == seq,
            now.nanoseconds < slot.storedAt || now - Instant(nanoseconds: slot.storedAt) <= maxAge
        else {
            misses &+= 1
            return nil
        }
        hits &+= 1
        return UnsafeRawBufferPointer(start: bytes + (Int(seq) & mask) * slotSize, count: Int(slot.length))
    }

    /// The bytes `store` last put in packet `seq`'s slot, without the age and span checks of
    /// `packet(sequenceNumber:now:)`: for the fan-out of a packet it has just stored (valid
    /// until `slotCount` newer packets were stored).
    public func justStored(sequenceNumber seq: UInt16) -> UnsafeRawBufferPointer {
        let i = Int(seq) & mask
        return UnsafeRawBufferPointer(start: bytes + i * slotSize, count: Int(slots[i].length))
    }

    /// The newest sequence number stored, nil before the first packet.
    public var newestSequenceNumber: UInt16? { hasNewest ? newest : nil }

    /// Copies every packet `old` holds (with its stored time) into this ring, which must be
    /// at least as large and have slots as large: a history regrown for a higher packet rate
    /// keeps answering NACKs for the packets sent before. A fresh, empty ring there would
    /// leave those unanswerable — and a receiver such as aiortc, whose jitter buffer waits
    /// for a missing packet until 512 more have come, stalls for seconds.
    public func copyPackets(from old: PacketHistory) {
        precondition(old.slotSize <= slotSize)
        guard old.hasNewest else { return }
        for i in 0..<old.slotCount {
            let slot = old.slots[i]
            // Only what this ring's span behind the newest can hold (all of it when growing;
            // the newest packets when shrinking): two such numbers never share a slot.
            guard slot.storedAt != 0, Int(old.newest &- slot.sequenceNumber) < slotCount else { continue }
            let j = Int(slot.sequenceNumber) & mask
            (bytes + j * slotSize).copyMemory(from: old.bytes + i * old.slotSize, byteCount: Int(slot.length))
            slots[j] = slot
        }
        if !hasNewest || StreamRewriter.isNewer(old.newest, than: newest) {
            newest = old.newest
            hasNewest = true
        }
    }

    /// Forgets everything (e.g. the track's stream was reset); storage is kept.
    public func removeAll() {
        for i in 0..<slotCount { slots[i] = Slot() }
        hasNewest = false
    }
}
