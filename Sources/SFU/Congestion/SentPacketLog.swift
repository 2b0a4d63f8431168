import Reactor

/// What one viewer transport sent with a transport-wide sequence number
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01): the number, the size and the send
/// time of each packet, in a ring of `capacity` entries, so the viewer's transport-cc
/// feedback can be matched to what was sent (`BandwidthEstimator`).
///
/// One log per viewer session, shared by its audio and video: the numbers belong to the
/// transport, not to a stream. The fan-out writes it per copy through `recorder`, a plain
/// handle over the storage (no reference counting, no exclusivity check, no allocation);
/// the log owns the memory and outlives every use of the handle (the session keeps both).
/// Core-confined.
public final class SentPacketLog {
    /// Packets remembered: at 2.5 Mbit/s of video and audio (≈ 300 packets/s) about 0.85 s,
    /// at 8 Mbit/s 0.3 s, which still holds a feedback interval (Chromium sends one every
    /// 50–250 ms, more often at higher rates) plus a 200 ms round trip. Feedback about older
    /// packets is ignored (counted by the estimator). 8 bytes each: 2 KiB per viewer that
    /// negotiated transport-cc (the server's memory per viewer is about 30 KiB).
    public static let capacity = 256

    /// One sent packet, 8 bytes. Slot `n % capacity` holds number `n` until `n + capacity`
    /// is sent, so the slot itself needs no tag (`lookup` takes only the last `capacity`).
    public struct Entry {
        /// The send time in units of 1 024 ns, its low 32 bits (it wraps every 73 minutes;
        /// `sendMicros(now:)` unwraps it against a later time).
        public var sendUnits: UInt32
        public var size: UInt16
        /// Set once feedback reported the packet (received or lost), so a repeated report
        /// is not counted twice.
        public var reported: Bool

        /// The send time in microseconds, given a time not more than 73 minutes later.
        public func sendMicros(now: Instant) -> Int64 {
            let nowUnits = now.nanoseconds >> 10
            let units = nowUnits &- UInt64(UInt32(truncatingIfNeeded: nowUnits) &- sendUnits)
            return Int64(truncatingIfNeeded: (units << 10) / 1000)
        }
    }

    /// The per-copy writer: takes the next transport-wide sequence number for a packet and
    /// records it. A plain value over the log's storage, valid while the log lives.
    public struct Recorder {
        fileprivate let next: UnsafeMutablePointer<UInt64>
        fileprivate let entries: UnsafeMutablePointer<Entry>

        /// Numbers a packet of `bytes` sent at `time` and returns its 16-bit sequence number.
        @inline(__always)
        public func record(bytes: Int, at time: Instant) -> UInt16 {
            let seq = next.pointee
            next.pointee = seq &+ 1
            let i = Int(truncatingIfNeeded: seq) & (SentPacketLog.capacity - 1)
            entries[i] = Entry(
                sendUnits: UInt32(truncatingIfNeeded: time.nanoseconds >> 10),
                size: UInt16(truncatingIfNeeded: min(bytes, 0xFFFF)), reported: false)
            return UInt16(truncatingIfNeeded: seq)
        }
    }

    private let next: UnsafeMutablePointer<UInt64>
    private let start: UInt64
    private let entries: UnsafeMutablePointer<Entry>
    public let recorder: Recorder

    /// A log whose first packet gets `firstSequence` (random per transport in production).
    public init(firstSequence: UInt16 = 0) {
        next = .allocate(capacity: 1)
        // Extended numbers start one wrap up, so a report just behind the first packet
        // unwraps to a positive number.
        start = 0x1_0000 + UInt64(firstSequence)
        next.initialize(to: start)
        entries = .allocate(capacity: Self.capacity)
        entries.initialize(repeating: Entry(sendUnits: 0, size: 0, reported: true), count: Self.capacity)
        recorder = Recorder(next: next, entries: entries)
    }

    deinit {
        next.deallocate()
        entries.deallocate()
    }

    /// Packets numbered so far.
    public var packetsRecorded: UInt64 { next.pointee - start }

    /// The extended number of the last packet numbered, nil before the first.
    var newestSequence: UInt64? { next.pointee > start ? next.pointee - 1 : nil }

    /// The entry of a reported 16-bit number: unwrapped to the newest packet sent (a number
    /// ahead of it was never sent), nil when never sent or already overwritten.
    func lookup(_ seq: UInt16) -> UnsafeMutablePointer<Entry>? {
        extended(seq).map { entries + (Int(truncatingIfNeeded: $0) & (Self.capacity - 1)) }
    }

    /// The extended number of a reported 16-bit number, as `lookup` unwraps it.
    func extended(_ seq: UInt16) -> UInt64? {
        guard let newest = newestSequence else { return nil }
        let behind = UInt64(UInt16(truncatingIfNeeded: newest) &- seq)
        guard behind < UInt64(Self.capacity), newest - behind >= start else { return nil }
        return newest - behind
    }

    /// The extended number the next packet will get.
    var nextSequence: UInt64 { next.pointee }
}
