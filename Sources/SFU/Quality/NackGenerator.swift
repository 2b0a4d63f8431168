import Reactor

/// Finds the packets lost on a publisher's uplink (gaps in one SSRC's sequence numbers) and
/// says which to NACK upstream and when: first after a short reordering allowance, then again
/// every retry interval, at most `maxTries` times and for at most `maxAge`; a packet that
/// arrives (late, or as RTX) is dropped from the list at once.
///
/// Memory is bounded: at most `capacity` missing packets are tracked (the oldest are given up
/// first), and a jump larger than `maxGap` (a restarted stream, a bogus number) resets the
/// tracking instead of NACKing thousands of packets. Allocation-free after creation.
public struct NackGenerator {
    private struct Missing {
        var sequenceNumber: UInt16
        var detectedAt: UInt64
        var lastSentAt: UInt64  // 0: not sent yet
        var tries: UInt8
    }

    public let capacity: Int
    public let maxGap: Int
    public let maxTries: Int
    public let maxAge: Duration
    /// Wait this long after detecting a gap before the first NACK (reordering allowance).
    public let reorderDelay: Duration
    /// Interval between NACKs for the same packet when the RTT is not known.
    public var retryInterval: Duration

    private var missing: [Missing]
    private var highest: UInt16 = 0
    private var started = false
    private var nextDue: UInt64 = .max

    // Figures.
    public private(set) var packetsReceived: UInt64 = 0
    public private(set) var gapsDetected: UInt64 = 0
    /// Missing packets that arrived after all (reordered or repaired).
    public private(set) var recovered: UInt64 = 0
    /// Missing packets given up (too many tries, too old, or pushed out by newer losses).
    public private(set) var givenUp: UInt64 = 0
    public private(set) var nacksRequested: UInt64 = 0
    public private(set) var resets: UInt64 = 0
    public private(set) var duplicatesOrLate: UInt64 = 0

    public init(
        capacity: Int = 256, maxGap: Int = 1000, maxTries: Int = 10, maxAge: Duration = .seconds(1),
        reorderDelay: Duration = .milliseconds(5), retryInterval: Duration = .milliseconds(100)
    ) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.maxGap = max(1, maxGap)
        self.maxTries = max(1, maxTries)
        self.maxAge = maxAge
        self.reorderDelay = reorderDelay
        self.retryInterval = retryInterval
        missing = []
        missing.reserveCapacity(capacity)
    }

    /// How many packets are being waited for.
    public var missingCount: Int { missing.count }

    /// Whether any NACK is due (cheap; call after each packet or on a timer).
    public func isDue(now: Instant) -> Bool { now.nanoseconds >= nextDue }

    /// The highest sequence number received.
    public var highestSequenceNumber: UInt16? { started ? highest : nil }

    /// A packet of the stream arrived. Returns true when it revealed a new gap.
    @discardableResult
    public mutating func received(sequenceNumber seq: UInt16, now: Instant) -> Bool {
        packetsReceived &+= 1
        guard started else {
            started = true
            highest = seq
            return false
        }
        let ahead = Int(seq &- highest)
        if ahead == 0 {
            duplicatesOrLate &+= 1
            return false
        }
        if ahead < 0x8000 {
            if ahead > maxGap {
                reset(to: seq)
                return false
            }
            var s = highest &+ 1
            // Only the newest `capacity` of a long gap could be tracked anyway.
            if ahead - 1 > capacity {
                givenUp &+= UInt64(ahead - 1 - capacity)
                s = seq &- UInt16(capacity)
            }
            let t = max(now.nanoseconds, 1)
            while s != seq {
                add(Missing(sequenceNumber: s, detectedAt: t, lastSentAt: 0, tries: 0))
                s &+= 1
            }
            highest = seq
            if ahead > 1 {
                gapsDetected &+= 1
                nextDue = min(nextDue, t &+ reorderDelay.nanoseconds)
                return true
            }
            return false
        }
        // Older than the highest: one we are waiting for, a duplicate, or a far jump back.
        if let i = missing.firstIndex(where: { $0.sequenceNumber == seq }) {
            missing.remove(at: i)
            recovered &+= 1
        } else if Int(highest &- seq) > maxGap {
            reset(to: seq)
        } else {
            duplicatesOrLate &+= 1
        }
        return false
    }

    /// A repair (unwrapped RTX) arrived. True when it fills a gap being waited for (forward
    /// it); false for a copy of a packet already received or given up — browsers also send
    /// RTX copies of old packets as bandwidth probes — which is only counted.
    public mutating func repairArrived(sequenceNumber seq: UInt16) -> Bool {
        guard let i = missing.firstIndex(where: { $0.sequenceNumber == seq }) else {
            duplicatesOrLate &+= 1
            return false
        }
        missing.remove(at: i)
        recovered &+= 1
        return true
    }

    /// Writes the sequence numbers to NACK now into `out` (ascending from the oldest) and
    /// returns how many; marks them sent. `roundTripTime` paces retries when known.
    public mutating func collect(
        now: Instant, roundTripTime: Duration? = nil, into out: UnsafeMutableBufferPointer<UInt16>
    ) -> Int {
        let t = now.nanoseconds
        guard t >= nextDue else { return 0 }
        let retry =
            roundTripTime.map { Duration(nanoseconds: max($0.nanoseconds + $0.nanoseconds / 2, 20_000_000)) }
            ?? retryInterval
        var n = 0
        var due: UInt64 = .max
        var keep = 0
        for i in missing.indices {
            var m = missing[i]
            if t >= m.detectedAt, Duration(nanoseconds: t - m.detectedAt) > maxAge {
                givenUp &+= 1
                continue
            }
            let next = m.lastSentAt == 0 ? m.detectedAt &+ reorderDelay.nanoseconds : m.lastSentAt &+ retry.nanoseconds
            if t >= next, n < out.count {
                if Int(m.tries) >= maxTries {
                    givenUp &+= 1
                    continue
                }
                out[n] = m.sequenceNumber
                n += 1
                m.tries &+= 1
                m.lastSentAt = max(t, 1)
                nacksRequested &+= 1
                due = min(due, m.lastSentAt &+ retry.nanoseconds)
            } else {
                due = min(due, next)
            }
            missing[keep] = m
            keep += 1
        }
        missing.removeLast(missing.count - keep)
        nextDue = due
        return n
    }

    /// Forgets every loss and restarts from `seq` (a new stream, or an implausible jump).
    public mutating func reset(to seq: UInt16) {
        givenUp &+= UInt64(missing.count)
        missing.removeAll(keepingCapacity: true)
        highest = seq
        nextDue = .max
        resets &+= 1
    }

    private mutating func add(_ m: Missing) {
        if missing.count >= capacity {
            missing.removeFirst()  // O(capacity), only under heavy loss
            givenUp &+= 1
        }
        missing.append(m)
    }
}
