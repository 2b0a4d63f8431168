import Reactor

/// Finds the packets lost on a publisher's uplink (gaps in one SSRC's sequence numbers) and
/// says which to NACK upstream and when: first after a short reordering allowance, then again
/// every retry interval, at most `maxTries` times and for at most `maxAge`; a packet that
/// arrives (late, or as RTX) is dropped from the list at once.
///
/// It also measures the round-trip time to the publisher: the time from a NACK to the
/// arrival of the packet it asked for is one RTT sample (plus the publisher's turnaround,
/// which is what a retry has to wait for anyway). This is the practical measurement: our
/// receiver reports let the *publisher* compute the RTT from LSR/DLSR, not us, and browsers
/// send no receiver reports as publishers (so there is no DLSR of theirs to use). Samples
/// follow Karn's rule — only packets NACKed exactly once, so the repair cannot be answering
/// an earlier or later NACK — and are smoothed as RFC 6298 smooths TCP's (SRTT, RTTVAR).
/// A late original (reordered past the NACK) looks like a plain repair and gives a short
/// sample; the bounds on the retry interval keep that harmless.
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
    /// Bounds of the retry interval derived from the measured RTT. At least 20 ms, so the
    /// `maxTries` NACKs of a packet span 200 ms or more even on loopback (a publisher's pacer
    /// may hold a repair back for a few ms more than the RTT it measured before).
    public static let minRetryInterval: Duration = .milliseconds(20)
    public static let maxRetryInterval: Duration = .milliseconds(500)

    /// Smoothed RTT to the publisher and its variation (RFC 6298 §2), nil before a sample.
    public private(set) var roundTripTime: Duration?
    public private(set) var roundTripVariation: Duration?
    public private(set) var lastRoundTripSample: Duration?
    public private(set) var roundTripSamples: UInt64 = 0

    private var missing: [Missing]
    private var highest = SequenceNumber(0)
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

    /// When the next NACK (new gap or retry) is due; nil when none is pending.
    public var nextDueTime: Instant? { nextDue == .max ? nil : Instant(nanoseconds: nextDue) }

    /// The highest sequence number received.
    public var highestSequenceNumber: UInt16? { started ? highest.value : nil }

    /// A packet of the stream arrived. Returns true when it revealed a new gap.
    @discardableResult
    public mutating func received(sequenceNumber seq: UInt16, now: Instant) -> Bool {
        packetsReceived &+= 1
        guard started else {
            started = true
            highest = SequenceNumber(seq)
            return false
        }
        let number = SequenceNumber(seq)
        let ahead = number.distance(from: highest)
        if ahead == 0 {
            duplicatesOrLate &+= 1
            return false
        }
        if ahead > 0 {
            if ahead > maxGap {
                reset(to: seq)
                return false
            }
            var s = highest.advanced(by: 1)
            // Only the newest `capacity` of a long gap could be tracked anyway.
            if ahead - 1 > capacity {
                givenUp &+= UInt64(ahead - 1 - capacity)
                s = number.advanced(by: -capacity)
            }
            let t = max(now.nanoseconds, 1)
            while s != number {
                add(Missing(sequenceNumber: s.value, detectedAt: t, lastSentAt: 0, tries: 0))
                s = s.advanced(by: 1)
            }
            highest = number
            if ahead > 1 {
                gapsDetected &+= 1
                nextDue = min(nextDue, t &+ reorderDelay.nanoseconds)
                return true
            }
            return false
        }
        // Older than the highest: one we are waiting for, a duplicate, or a far jump back.
        if let i = missing.firstIndex(where: { $0.sequenceNumber == seq }) {
            sample(missing[i], now: now)
            missing.remove(at: i)
            recovered &+= 1
        } else if -ahead > maxGap {
            reset(to: seq)
        } else {
            duplicatesOrLate &+= 1
        }
        return false
    }

    /// A repair (unwrapped RTX) arrived. True when it fills a gap being waited for (forward
    /// it); false for a copy of a packet already received or given up — browsers also send
    /// RTX copies of old packets as bandwidth probes — which is only counted.
    /// `now` (when given) makes it an RTT sample.
    public mutating func repairArrived(sequenceNumber seq: UInt16, now: Instant? = nil) -> Bool {
        guard let i = missing.firstIndex(where: { $0.sequenceNumber == seq }) else {
            duplicatesOrLate &+= 1
            return false
        }
        if let now { sample(missing[i], now: now) }
        missing.remove(at: i)
        recovered &+= 1
        return true
    }

    /// The interval between NACKs for one packet: `retryInterval` until an RTT is measured;
    /// then the RTT plus twice its variation (a repair later than that is most likely lost;
    /// at least 2 ms more than the RTT), within `minRetryInterval`…`maxRetryInterval`.
    public var currentRetryInterval: Duration {
        guard let srtt = roundTripTime else { return retryInterval }
        return Self.retryInterval(rtt: srtt, variation: roundTripVariation ?? Duration(nanoseconds: srtt.nanoseconds / 2))
    }

    static func retryInterval(rtt: Duration, variation: Duration) -> Duration {
        let ns = rtt.nanoseconds &+ max(2 &* variation.nanoseconds, 2_000_000)
        return Duration(
            nanoseconds: min(max(ns, minRetryInterval.nanoseconds), maxRetryInterval.nanoseconds))
    }

    /// Writes the sequence numbers to NACK now into `out` (ascending from the oldest) and
    /// returns how many; marks them sent. Retries are paced by `roundTripTime` when given,
    /// else by `currentRetryInterval` (the measured RTT, or `retryInterval`).
    public mutating func collect(
        now: Instant, roundTripTime: Duration? = nil, into out: UnsafeMutableBufferPointer<UInt16>
    ) -> Int {
        let t = now.nanoseconds
        guard t >= nextDue else { return 0 }
        let retry =
            roundTripTime.map { Self.retryInterval(rtt: $0, variation: Duration(nanoseconds: $0.nanoseconds / 4)) }
            ?? currentRetryInterval
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
        highest = SequenceNumber(seq)
        nextDue = .max
        resets &+= 1
    }

    /// One RTT sample from a missing packet that arrived, if it was NACKed exactly once.
    private mutating func sample(_ m: Missing, now: Instant) {
        guard m.tries == 1, m.lastSentAt != 0, now.nanoseconds >= m.lastSentAt else { return }
        let r = now.nanoseconds - m.lastSentAt
        guard r <= maxAge.nanoseconds else { return }
        lastRoundTripSample = Duration(nanoseconds: r)
        roundTripSamples &+= 1
        guard let srtt = roundTripTime?.nanoseconds, let rttvar = roundTripVariation?.nanoseconds else {
            roundTripTime = Duration(nanoseconds: r)  // RFC 6298 §2.2
            roundTripVariation = Duration(nanoseconds: r / 2)
            return
        }
        // §2.3: RTTVAR ← 3/4 RTTVAR + 1/4 |SRTT − R|, then SRTT ← 7/8 SRTT + 1/8 R.
        let diff = srtt > r ? srtt - r : r - srtt
        roundTripVariation = Duration(nanoseconds: (rttvar * 3 + diff) / 4)
        roundTripTime = Duration(nanoseconds: (srtt * 7 + r) / 8)
    }

    private mutating func add(_ m: Missing) {
        if missing.count >= capacity {
            missing.removeFirst()  // O(capacity), only under heavy loss
            givenUp &+= 1
        }
        missing.append(m)
    }
}
