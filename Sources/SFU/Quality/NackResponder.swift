import Reactor

/// Decides, for one viewer of one track, which NACKed packets to send again.
///
/// Two limits keep repairs from hurting: a packet resent to this viewer is not resent again
/// within about one round trip (the first copy may still be on its way), and resends draw
/// from a token bucket refilled at a share of the stream's bitrate, so a viewer that NACKs
/// everything (a flood, or a hopeless link) gets at most that much extra and never starves
/// the other viewers or the core. Everything refused is counted.
///
/// Each resend is also followed by one more copy a short while later (`followUpDelay`): some
/// receivers NACK a packet once and ask again only when a *new* gap shows up — aiortc does,
/// and forgets the packet after 128 more, while its jitter buffer holds every later frame
/// until it comes or 512 packets have passed (≈4.5 s at 1 Mbps). A lost repair then stalls
/// such a viewer until its next loss, or for seconds. The follow-up makes a lost repair as
/// rare as two losses in a row, for as many bytes again as the repairs (about the loss rate
/// of the stream), drawn from the same budget. Receivers that retry by themselves (Chromium,
/// every ~RTT) just see a duplicate.
///
/// Allocation-free: the recently-resent table and the follow-up queue are fixed rings
/// created with the responder.
public struct NackResponder {
    /// What to do with one NACKed sequence number.
    public enum Decision: Equatable, Sendable {
        case resend
        /// Resent to this viewer less than one RTT ago.
        case repeated
        /// Over the resend budget.
        case overBudget
    }

    /// Resend budget: `shareOfBitrate` percent of the stream bitrate, at least `minimumRate`
    /// bits per second, with a burst of `burst` worth of that rate.
    public var shareOfBitrate: UInt64
    public var minimumRate: UInt64
    public let burst: Duration
    /// Repeat window when the viewer's RTT is not known yet.
    public var defaultRepeatInterval: Duration
    /// The viewer's measured round-trip time, when known.
    public var roundTripTime: Duration?

    private var rate: UInt64
    /// Tokens in bits × 1e9 (bit-nanoseconds), so refills need no division per call.
    private var tokens: UInt64
    private var lastRefill: Instant?
    private static let recentCount = 512
    private var recentSeq: [UInt16]
    /// When each was resent, in µs of the clock, wrapping every 71 minutes (0: never): 4
    /// bytes a slot, not 8, in every viewer track. An entry older than that can alias into
    /// the repeat window only with its sequence number still in the slot, and then costs one
    /// suppressed resend.
    private var recentAt: [UInt32]
    /// Follow-up copies waiting to be sent, oldest first (a FIFO: their delays are equal, so
    /// they fall due in order). 32: they wait one tick (~20 ms), in which a viewer rarely
    /// gets more repairs; per-viewer memory stays small (320 bytes a track).
    private static let followUpCapacity = 32
    private var followUpSeq: [UInt16]
    private var followUpDue: [UInt64]
    private var followUpHead = 0
    private var followUpCount = 0
    /// Whether resends get a follow-up copy.
    public var sendsFollowUps: Bool
    /// Next RTX sequence number for this viewer (its own sequence space, RFC 4588 §4).
    public var nextRTXSequence: UInt16

    // Figures.
    public private(set) var requested: UInt64 = 0
    public private(set) var resent: UInt64 = 0
    public private(set) var resentBytes: UInt64 = 0
    public private(set) var suppressedRepeats: UInt64 = 0
    public private(set) var suppressedBudget: UInt64 = 0
    /// NACKed packets that were no longer (or never) in the history.
    public private(set) var missing: UInt64 = 0
    /// NACKed sequence numbers not even looked up: over `maxRequestsPerSecond`.
    public private(set) var suppressedFlood: UInt64 = 0
    /// Follow-up copies sent, and those not sent (queue full, over budget, or gone from the
    /// history).
    /// When the earliest follow-up copy is due (they are queued in order); nil when none is.
    public var nextFollowUpTime: Instant? {
        followUpCount > 0 ? Instant(nanoseconds: followUpDue[followUpHead]) : nil
    }
    public private(set) var followUpsSent: UInt64 = 0
    public private(set) var followUpsDropped: UInt64 = 0
    /// Most sequence numbers looked up per second for this viewer (a NACK flood costs the
    /// core lookups even when nothing is resent).
    public var maxRequestsPerSecond: UInt64 = 3000
    private var floodWindowStart: Instant?
    private var floodWindowCount: UInt64 = 0

    public init(
        shareOfBitrate: UInt64 = 25, minimumRate: UInt64 = 200_000, burst: Duration = .milliseconds(500),
        defaultRepeatInterval: Duration = .milliseconds(100), firstRTXSequence: UInt16 = 0,
        sendsFollowUps: Bool = true
    ) {
        self.shareOfBitrate = shareOfBitrate
        self.minimumRate = minimumRate
        self.defaultRepeatInterval = defaultRepeatInterval
        self.burst = Duration(nanoseconds: min(burst.nanoseconds, 2_000_000_000))
        self.rate = min(minimumRate, Self.maxRate)
        self.tokens = 0
        self.recentSeq = [UInt16](repeating: 0, count: Self.recentCount)
        self.recentAt = [UInt32](repeating: 0, count: Self.recentCount)
        self.nextRTXSequence = firstRTXSequence
        self.sendsFollowUps = sendsFollowUps
        self.followUpSeq = [UInt16](repeating: 0, count: Self.followUpCapacity)
        self.followUpDue = [UInt64](repeating: 0, count: Self.followUpCapacity)
    }

    /// Adjusts the budget to the stream's current bitrate (bits per second).
    public mutating func updateStreamBitrate(_ bitrate: UInt64) {
        // Bounded so that rate × burst (in bit-nanoseconds) stays far from overflow.
        rate = min(max(minimumRate, min(bitrate, Self.maxRate) * min(shareOfBitrate, 100) / 100), Self.maxRate)
    }

    /// The current budget in bits per second.
    public var budgetRate: UInt64 { rate }

    /// How long a resent packet is not resent again: one RTT, bounded to 10…500 ms, or the
    /// default before an RTT is known. A NACK arriving within an RTT of the resend was sent
    /// before the copy could have arrived; one arriving later means the copy was lost. Not
    /// more than an RTT: libwebrtc receivers retry a NACK after one RTT, and a longer window
    /// would swallow exactly those retries.
    public var repeatInterval: Duration {
        guard let rtt = roundTripTime else { return defaultRepeatInterval }
        return Duration(nanoseconds: min(max(rtt.nanoseconds, 10_000_000), 500_000_000))
    }

    /// How long after a resend its follow-up copy goes: half an RTT (a burst of loss on the
    /// path is then likely over), bounded to 10…100 ms; 20 ms before an RTT is known. In
    /// practice it goes on the first core tick after that (ticks are ~20 ms apart).
    public var followUpDelay: Duration {
        guard let rtt = roundTripTime else { return .milliseconds(20) }
        return Duration(nanoseconds: min(max(rtt.nanoseconds / 2, 10_000_000), 100_000_000))
    }

    /// Whether one more NACKed sequence number may be looked up now (flood bound).
    public mutating func admit(now: Instant) -> Bool {
        if let start = floodWindowStart, now - start < .seconds(1) {
            guard floodWindowCount < maxRequestsPerSecond else {
                suppressedFlood &+= 1
                return false
            }
        } else {
            floodWindowStart = now
            floodWindowCount = 0
        }
        floodWindowCount &+= 1
        return true
    }

    /// A NACKed packet that is not in the history: only counted.
    public mutating func recordMissing() {
        requested &+= 1
        missing &+= 1
    }

    /// A NACKed packet that is in the history (`bytes` long): resend it now?
    /// `.resend` has already charged the budget and marked the packet as resent.
    public mutating func decide(sequenceNumber seq: UInt16, bytes: Int, now: Instant) -> Decision {
        requested &+= 1
        let slot = Int(seq) & (Self.recentCount - 1)
        if recentAt[slot] != 0, recentSeq[slot] == seq,
            UInt64(Self.micros(now) &- recentAt[slot]) * 1000 < repeatInterval.nanoseconds
        {
            suppressedRepeats &+= 1
            return .repeated
        }
        guard charge(sequenceNumber: seq, bytes: bytes, now: now) else {
            suppressedBudget &+= 1
            return .overBudget
        }
        resent &+= 1
        return .resend
    }

    private static func micros(_ t: Instant) -> UInt32 { UInt32(truncatingIfNeeded: t.nanoseconds / 1000) }

    /// Takes `bytes` from the resend budget and marks `seq` as just resent; false (nothing
    /// taken) when the budget is short.
    private mutating func charge(sequenceNumber seq: UInt16, bytes: Int, now: Instant) -> Bool {
        refill(now: now)
        let cost = UInt64(max(bytes, 0)) * 8 * 1_000_000_000
        guard tokens >= cost else { return false }
        tokens -= cost
        let slot = Int(seq) & (Self.recentCount - 1)
        recentSeq[slot] = seq
        recentAt[slot] = max(Self.micros(now), 1)
        resentBytes &+= UInt64(max(bytes, 0))
        return true
    }

    /// Gives back the budget of `bytes` charged for a copy that was not sent after all.
    private mutating func uncharge(bytes: Int) {
        tokens = min(tokens &+ UInt64(max(bytes, 0)) * 8 * 1_000_000_000, capacity)
        resentBytes &-= UInt64(max(bytes, 0))
    }

    /// Queues the follow-up copy of a packet just resent (see the type's notes). When the
    /// queue is full the oldest waiting follow-up is dropped (counted).
    public mutating func scheduleFollowUp(sequenceNumber seq: UInt16, now: Instant) {
        guard sendsFollowUps else { return }
        if followUpCount == Self.followUpCapacity {
            followUpHead = (followUpHead + 1) % Self.followUpCapacity
            followUpCount -= 1
            followUpsDropped &+= 1
        }
        let i = (followUpHead + followUpCount) % Self.followUpCapacity
        followUpSeq[i] = seq
        followUpDue[i] = now.nanoseconds &+ followUpDelay.nanoseconds
        followUpCount += 1
    }

    /// Whether any follow-up copy waits (cheap; checked on every tick).
    public var hasFollowUps: Bool { followUpCount > 0 }

    /// Takes the next follow-up that is due at `now`, oldest first; nil when none is.
    public mutating func takeDueFollowUp(now: Instant) -> UInt16? {
        guard followUpCount > 0, followUpDue[followUpHead] <= now.nanoseconds else { return nil }
        let seq = followUpSeq[followUpHead]
        followUpHead = (followUpHead + 1) % Self.followUpCapacity
        followUpCount -= 1
        return seq
    }

    /// A follow-up copy (`bytes` long) of `seq`, found in the history: send it? Not subject
    /// to the repeat window (it repeats on purpose), only to the budget. `.resend` has
    /// charged the budget and marked the packet as just resent, so a NACK that crossed the
    /// copy on the wire is not answered a third time.
    public mutating func decideFollowUp(sequenceNumber seq: UInt16, bytes: Int, now: Instant) -> Decision {
        guard charge(sequenceNumber: seq, bytes: bytes, now: now) else {
            followUpsDropped &+= 1
            return .overBudget
        }
        followUpsSent &+= 1
        return .resend
    }

    /// A follow-up that could not be sent after all (gone from the history, queue full):
    /// counted, its budget (if charged) returned.
    public mutating func followUpNotSent(refundingBytes bytes: Int = 0) {
        if bytes > 0 {
            uncharge(bytes: bytes)
            followUpsSent &-= 1
        }
        followUpsDropped &+= 1
    }

    /// Returns the budget of a resend that could not be sent after all (queue full).
    public mutating func refund(bytes: Int) {
        uncharge(bytes: bytes)
        resent &-= 1
    }

    /// Takes the next RTX sequence number for this viewer.
    public mutating func takeRTXSequence() -> UInt16 {
        defer { nextRTXSequence &+= 1 }
        return nextRTXSequence
    }

    private static let maxRate: UInt64 = 1_000_000_000
    private var capacity: UInt64 { rate * min(burst.nanoseconds, 2_000_000_000) }

    private mutating func refill(now: Instant) {
        guard let last = lastRefill else {
            tokens = capacity  // a full bucket to start with
            lastRefill = now
            return
        }
        if now > last {
            let elapsed = min((now - last).nanoseconds, burst.nanoseconds)
            tokens = min(tokens &+ rate * elapsed, capacity)
            lastRefill = now
        }
        tokens = min(tokens, capacity)
    }
}
