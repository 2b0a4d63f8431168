import Reactor

/// Keeps one outbound RTP stream continuous across publisher changes: viewers see a single
/// SSRC whose sequence numbers and timestamps run on without a jump back when the publisher
/// reconnects (a new SSRC, new random sequence and timestamp bases), so no renegotiation.
public struct StreamRewriter: Sendable {
    /// RTP clock rate of the stream (90 000 for video, 48 000 for Opus).
    public let clockRate: UInt32
    public private(set) var sourceSSRC: UInt32 = 0
    public private(set) var started = false
    private var seqOffset: UInt16 = 0
    private var timestampOffset: UInt32 = 0
    private var highestSeq = SequenceNumber(0)
    private var highestTimestamp: UInt32 = 0
    private var highestAt = Instant(nanoseconds: 0)

    public init(clockRate: UInt32) {
        precondition(clockRate > 0, "an RTP clock rate is positive")
        self.clockRate = clockRate
    }

    /// Maps a publisher packet's sequence number and timestamp onto the outbound stream.
    public mutating func rewrite(ssrc: UInt32, sequenceNumber seq: UInt16, timestamp ts: UInt32, now: Instant)
        -> (sequenceNumber: UInt16, timestamp: UInt32)
    {
        if !started || ssrc != sourceSSRC { switchSource(to: ssrc, seq: seq, timestamp: ts, now: now) }
        let outSeq = SequenceNumber(seq &+ seqOffset)
        let outTs = ts &+ timestampOffset
        if outSeq.isNewer(than: highestSeq) {
            highestSeq = outSeq
            highestTimestamp = outTs
            highestAt = now
        }
        return (outSeq.value, outTs)
    }

    /// The outbound timestamp for a publisher timestamp of the current source (for SR rewriting).
    public func outboundTimestamp(_ ts: UInt32) -> UInt32 { ts &+ timestampOffset }

    /// The outbound sequence number for a publisher sequence number of the current source.
    public func outboundSequenceNumber(_ seq: UInt16) -> UInt16 { seq &+ seqOffset }

    /// The last sequence number sent on the outbound stream.
    public var lastSequenceNumber: UInt16 { highestSeq.value }

    private mutating func switchSource(to ssrc: UInt32, seq: UInt16, timestamp ts: UInt32, now: Instant) {
        if started {
            // Continue one past the last packet, and advance the clock by the wall time that
            // passed, so a decoder's jitter buffer sees a pause rather than a rewind.
            let elapsedTicks = UInt64((now - highestAt).nanoseconds) * UInt64(clockRate) / 1_000_000_000
            let nextSeq = highestSeq.advanced(by: 1).value
            let nextTs = highestTimestamp &+ UInt32(truncatingIfNeeded: max(elapsedTicks, 1))
            seqOffset = nextSeq &- seq
            timestampOffset = nextTs &- ts
        } else {
            seqOffset = 0
            timestampOffset = 0
            highestSeq = SequenceNumber(seq).advanced(by: -1)
            highestTimestamp = ts
            highestAt = now
        }
        sourceSSRC = ssrc
        started = true
    }
}
