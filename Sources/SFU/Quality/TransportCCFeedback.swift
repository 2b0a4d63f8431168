import Reactor

/// Transport-wide congestion control feedback for one publisher transport
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01): records the arrival time of every
/// packet's transport-wide sequence number and, every `interval`, reports the packets that
/// arrived (and those that did not) since the last feedback, so the publisher's congestion
/// controller can ramp its bitrate up as it does against a browser peer.
///
/// Sequence numbers are unwrapped to 64 bits; a ring of `capacity` slots bounds memory, and
/// a window that would grow past it (a long silence in feedback, a bogus jump) is cut to its
/// newest part. Packets arriving after their number was reported are ignored (counted).
/// Allocation-free after creation.
public struct TransportCCFeedback {
    public let capacity: Int
    /// Most packets described by one feedback packet (the rest go in the next one).
    public let maxPacketsPerFeedback: Int
    public var interval: Duration
    private let mask: Int
    private var slotSeq: [Int64]
    private var slotArrival: [UInt64]
    /// First extended sequence number not reported yet; nil before the first packet.
    private var nextBase: Int64?
    private var highest: Int64 = 0
    private var lastFeedbackAt: Instant?
    private var feedbackCount: UInt8 = 0

    // Figures.
    public private(set) var packetsRecorded: UInt64 = 0
    public private(set) var lateArrivals: UInt64 = 0
    public private(set) var feedbacksBuilt: UInt64 = 0
    /// Sequence numbers dropped from a window too long to report.
    public private(set) var windowOverflows: UInt64 = 0

    public init(capacity: Int = 2048, maxPacketsPerFeedback: Int = 400, interval: Duration = .milliseconds(50)) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity is a power of two")
        self.capacity = capacity
        self.maxPacketsPerFeedback = max(1, min(maxPacketsPerFeedback, capacity))
        self.interval = interval
        mask = capacity - 1
        slotSeq = [Int64](repeating: -1, count: capacity)
        slotArrival = [UInt64](repeating: 0, count: capacity)
    }

    /// Records a packet's transport-wide sequence number and arrival time.
    public mutating func record(sequenceNumber seq: UInt16, arrival: Instant) {
        packetsRecorded &+= 1
        let ext: Int64
        if let base = nextBase {
            // Unwrap around the newest number seen: within ±2^15 of it.
            let newest = SequenceNumber(UInt16(truncatingIfNeeded: highest))
            ext = highest + Int64(SequenceNumber(seq).distance(from: newest))
            if ext < base {
                lateArrivals &+= 1
                return
            }
        } else {
            ext = Int64(seq) + 0x1_0000  // keep extended numbers positive after a wrap back
            nextBase = ext
            highest = ext
        }
        if ext > highest { highest = ext }
        if let base = nextBase, highest - base >= Int64(capacity) {
            let newBase = highest - Int64(capacity) + 1
            windowOverflows &+= UInt64(newBase - base)
            nextBase = newBase
            if ext < newBase { return }
        }
        let i = Int(ext & Int64(mask))
        slotSeq[i] = ext
        slotArrival[i] = max(arrival.nanoseconds, 1)
    }

    /// Whether packets are waiting to be reported.
    public var hasPending: Bool { nextBase.map { $0 <= highest } ?? false }

    /// Whether a feedback should be sent now.
    /// When the pending feedback is due; nil when nothing is pending.
    public var nextDueTime: Instant? {
        guard hasPending else { return nil }
        return lastFeedbackAt.map { $0 + interval } ?? Instant(nanoseconds: 0)
    }

    public func isDue(now: Instant) -> Bool {
        guard hasPending else { return false }
        guard let last = lastFeedbackAt else { return true }
        return now - last >= interval
    }

    /// The arrival times of a window of the ring, as the collection `RTCPWriter` reads.
    private struct ArrivalWindow: RandomAccessCollection {
        let seqs: [Int64]
        let arrivals: [UInt64]
        let first: Int64
        let count: Int
        let mask: Int
        var startIndex: Int { 0 }
        var endIndex: Int { count }
        subscript(i: Int) -> Instant? {
            let ext = first + Int64(i)
            let s = Int(ext & Int64(mask))
            return seqs[s] == ext ? Instant(nanoseconds: arrivals[s]) : nil
        }
    }

    /// Writes one feedback packet (for packets not reported yet) with `writer` and marks them
    /// reported. Returns false when there was nothing to report.
    @discardableResult
    public mutating func build(
        into writer: inout RTCPWriter, senderSSRC: UInt32, mediaSSRC: UInt32, now: Instant
    ) -> Bool {
        guard var base = nextBase, base <= highest else { return false }
        lastFeedbackAt = now
        while base <= highest {
            let count = Int(min(highest - base + 1, Int64(maxPacketsPerFeedback)))
            let window = ArrivalWindow(seqs: slotSeq, arrivals: slotArrival, first: base, count: count, mask: mask)
            // A window with no arrival at all cannot be encoded (no reference time): those
            // packets are lost; the publisher learns it from the next feedback's base.
            guard window.contains(where: { $0 != nil }) else {
                base += Int64(count)
                continue
            }
            writer.addTransportFeedback(
                senderSSRC: senderSSRC, mediaSSRC: mediaSSRC,
                baseSequence: UInt16(truncatingIfNeeded: base), feedbackCount: feedbackCount, arrivals: window)
            feedbackCount &+= 1
            feedbacksBuilt &+= 1
            nextBase = base + Int64(count)
            return true
        }
        nextBase = base
        return false
    }
}
