/// Counts one RTP stream's packets from its sequence numbers (RFC 3550 A.1 style):
/// extended highest sequence, packets expected and received, duplicates, and the gaps a
/// receiver would NACK. A 1024-packet window tells a late or repaired packet from a duplicate.
/// Its serial arithmetic is its own rather than the SFU's `SequenceNumber`, like the load
/// tool's RTP and RTCP code: it measures what the server delivers, so it shares none of the
/// server's code that could be wrong in the same way.
public struct SequenceTracker: Sendable {
    public private(set) var started = false
    public private(set) var baseSequence: UInt32 = 0
    /// Extended highest sequence number received (cycles << 16 | seq).
    public private(set) var highest: UInt32 = 0
    public private(set) var received: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    public private(set) var late: UInt64 = 0
    static let window = 1024
    private var seen = [UInt64](repeating: 0, count: window / 64)

    // RR interval state.
    private var expectedPrior: UInt64 = 0
    private var receivedPrior: UInt64 = 0

    public init() {}

    /// Packets the sender sent between the first and highest received.
    public var expected: UInt64 { started ? UInt64(highest &- baseSequence) + 1 : 0 }
    /// Expected minus received (never negative).
    public var lost: UInt64 { expected > received ? expected - received : 0 }

    /// What `add` found.
    public enum Outcome: Equatable, Sendable {
        case first, inOrder, late, duplicate
        /// New highest with `missing` packets skipped just before it (a gap to NACK).
        case gap(missing: Int)
        /// Too far from the highest to be this stream (a restart): counted as a new start.
        case reset
    }

    @discardableResult
    public mutating func add(_ seq: UInt16) -> Outcome {
        guard started else {
            started = true
            baseSequence = UInt32(seq)
            highest = UInt32(seq)
            received = 1
            mark(UInt32(seq))
            return .first
        }
        let delta = Int16(bitPattern: seq &- UInt16(truncatingIfNeeded: highest))
        if delta > 0 {
            let ext = highest &+ UInt32(delta)
            // Clear the window slots being skipped over or reused.
            var s = highest &+ 1
            while s != ext { unmark(s); s &+= 1 }
            highest = ext
            received &+= 1
            mark(ext)
            return delta == 1 ? .inOrder : .gap(missing: Int(delta) - 1)
        }
        let back = -Int(delta)
        if back >= Self.window {
            if back > 3000 {
                self = SequenceTracker()
                add(seq)
                return .reset
            }
            late &+= 1
            received &+= 1
            return .late
        }
        let ext = highest &- UInt32(back)
        if isMarked(ext) {
            duplicates &+= 1
            return .duplicate
        }
        if back > 0 && ext < baseSequence { baseSequence = ext }
        mark(ext)
        received &+= 1
        late &+= 1
        return .late
    }

    private mutating func mark(_ ext: UInt32) {
        let i = Int(ext % UInt32(Self.window))
        seen[i >> 6] |= 1 << UInt64(i & 63)
    }
    private mutating func unmark(_ ext: UInt32) {
        let i = Int(ext % UInt32(Self.window))
        seen[i >> 6] &= ~(1 << UInt64(i & 63))
    }
    private func isMarked(_ ext: UInt32) -> Bool {
        let i = Int(ext % UInt32(Self.window))
        return seen[i >> 6] & (1 << UInt64(i & 63)) != 0
    }

    /// Fraction lost since the last call (RFC 3550 A.3), 8-bit fixed point, for an RR.
    public mutating func takeIntervalFractionLost() -> UInt8 {
        let e = expected, r = received
        let ei = e &- expectedPrior, ri = r &- receivedPrior
        expectedPrior = e
        receivedPrior = r
        guard ei > 0, ei > ri else { return 0 }
        return UInt8(min(255, ((ei - ri) << 8) / ei))
    }
}
