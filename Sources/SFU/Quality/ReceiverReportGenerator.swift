import Reactor

/// Reception statistics of one publisher SSRC and the report block the SFU sends back
/// (RFC 3550 §6.4.1, appendix A.3 and A.8): extended highest sequence number, cumulative and
/// fractional loss, interarrival jitter, and LSR/DLSR so the publisher can measure its RTT.
public struct ReceiverReportGenerator {
    public let clockRate: UInt32
    /// A jump of this many numbers or more is a restart rather than loss (A.1).
    static let maxDropout = 3000
    /// Numbers at most this far behind the highest are reordered packets, not a restart.
    static let maxMisorder = 100

    private var started = false
    private var baseSeq: UInt32 = 0
    private var maxSeq: UInt16 = 0
    private var cycles: UInt32 = 0
    private var badSeq: UInt32 = 0x1_0001  // not a valid 16-bit number
    private var received: UInt32 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0
    private var lastTransit: Int64?
    /// Jitter × 16, as the A.8 integer form keeps it.
    private var jitter16: UInt32 = 0
    private var lastSR: UInt32 = 0
    private var lastSRAt: Instant?

    public private(set) var packetsReceived: UInt64 = 0
    public private(set) var restarts: UInt64 = 0

    public init(clockRate: UInt32) {
        precondition(clockRate > 0)
        self.clockRate = clockRate
    }

    /// A packet arrived. Repairs (unwrapped RTX) pass `updateJitter: false`: their delay says
    /// nothing about the path's jitter.
    public mutating func record(
        sequenceNumber seq: UInt16, timestamp: UInt32, arrival: Instant, updateJitter: Bool = true
    ) {
        packetsReceived &+= 1
        if !started {
            started = true
            restart(at: seq)
        } else {
            let ahead = SequenceNumber(seq).distance(from: SequenceNumber(maxSeq))
            if ahead >= 0, ahead < Self.maxDropout {
                if seq < maxSeq { cycles &+= 0x1_0000 }
                maxSeq = seq
            } else if ahead >= Self.maxDropout || ahead < -Self.maxMisorder {
                // A big jump: accept it only when the next packet follows it (A.1).
                if UInt32(seq) == badSeq {
                    restarts &+= 1
                    restart(at: seq)
                } else {
                    badSeq = UInt32(seq &+ 1)
                    return
                }
            }  // else a duplicate or reordered packet: counted below
        }
        received &+= 1
        guard updateJitter else { return }
        let arrivalTicks = Int64(
            truncatingIfNeeded: NTPTime.ticks(Duration(nanoseconds: arrival.nanoseconds), clockRate: clockRate))
        let transit = Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: arrivalTicks) &- timestamp))
        if let last = lastTransit {
            let d = UInt32(clamping: abs(transit - last))
            // J += (|D| - J) / 16, in the ×16 integer form of A.8.
            jitter16 = jitter16 &+ d &- ((jitter16 &+ 8) >> 4)
        }
        lastTransit = transit
    }

    private mutating func restart(at seq: UInt16) {
        baseSeq = UInt32(seq)
        maxSeq = seq
        cycles = 0
        badSeq = 0x1_0001
        received = 0
        expectedPrior = 0
        receivedPrior = 0
        lastTransit = nil
    }

    /// A sender report from this SSRC arrived (for LSR/DLSR).
    public mutating func recordSenderReport(ntpTimestamp: UInt64, now: Instant) {
        lastSR = NTPTime.middle32(ntpTimestamp)
        lastSRAt = now
    }

    /// The extended highest sequence number received.
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSeq) }

    /// Packets expected but not received so far (may be negative with duplicates).
    public var cumulativeLost: Int64 {
        guard started else { return 0 }
        let expected = Int64(extendedHighestSequence) - Int64(baseSeq) + 1
        return expected - Int64(received)
    }

    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32 { jitter16 >> 4 }

    /// The report block for `ssrc` (the publisher's SSRC), starting a new loss interval.
    /// Nil before the first packet.
    public mutating func reportBlock(ssrc: UInt32, now: Instant) -> RTCPReportBlock? {
        guard started else { return nil }
        let expected = extendedHighestSequence &- baseSeq &+ 1
        let expectedInterval = Int64(expected &- expectedPrior)
        let receivedInterval = Int64(received &- receivedPrior)
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 =
            expectedInterval <= 0 || lostInterval <= 0 ? 0 : UInt8(clamping: (lostInterval << 8) / expectedInterval)
        let lost = Int32(clamping: max(min(cumulativeLost, 0x7F_FFFF), -0x80_0000))
        var dlsr: UInt32 = 0
        if let at = lastSRAt { dlsr = NTPTime.units65536(now - at) }
        return RTCPReportBlock(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: lost, extendedHighestSequence: extendedHighestSequence,
            jitter: jitter, lastSenderReport: lastSRAt == nil ? 0 : lastSR, delaySinceLastSenderReport: dlsr)
    }
}
