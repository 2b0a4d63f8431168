import Reactor

/// The bytes all instant starts of one core may send, together: a token bucket refilled at
/// `bytesPerSecond` (`INSTANT_START_BYTES_PER_SECOND`), holding at most `burstWindow` of it.
/// Each start is also paced on its own (`TrackFanout.catchUpRateMultiple`), but a thousand
/// viewers joining at once would each ask for that pace; without a shared bound the core
/// sends far more than it can, the live stream drops, and starts fall so far behind that their
/// keyframe leaves the history. With it a storm of joiners takes longer to start, and costs
/// nothing upstream. Keyframes are served first (`RoomManager.sendInstantStarts`): every
/// viewer's first picture before anyone's later packets.
struct CatchUpBudget {
    /// Bytes per second for every start of the core together; 0 = no shared bound (each start
    /// paced on its own only).
    private(set) var bytesPerSecond = 0
    /// What the bucket holds at most: this much of `bytesPerSecond`, and never less than two
    /// packets, so the largest packet always fits in a full bucket.
    static let burstWindow: Duration = .milliseconds(20)
    static let minimumBurst = 2 * TrackFanout.maximumPacketBytes
    private(set) var available = 0
    private var refilledAt: Instant?

    // Figures (plain counters, folded at scrape time).
    /// Bytes the bucket was given (its first fill included) and those the starts spent; with
    /// a bound, spent never exceeds granted.
    private(set) var grantedBytes: UInt64 = 0
    private(set) var spentBytes: UInt64 = 0
    /// Of `spentBytes`, the keyframes' own.
    private(set) var keyframeBytes: UInt64 = 0
    /// Sends held back for a later turn because the bucket was empty (a start waiting a turn
    /// counts once per turn).
    private(set) var sendsHeldBack: UInt64 = 0
    /// Turns (`sendInstantStarts` calls) that emptied the bucket.
    private(set) var limitedTurns: UInt64 = 0
    /// Counts turns: the rooms served first rotate with it, so one room's storm does not
    /// starve another's start.
    private(set) var turn: UInt64 = 0
    private var limitedThisTurn = false

    var burst: Int { max(Int(clamping: UInt64(bytesPerSecond) * Self.burstWindow.nanoseconds / 1_000_000_000), Self.minimumBurst) }

    init(bytesPerSecond: Int = 0) { self.bytesPerSecond = max(bytesPerSecond, 0) }

    /// A turn begins at `now` (`refill`).
    mutating func beginTurn(now: Instant, bytesPerSecond rate: Int) {
        turn &+= 1
        limitedThisTurn = false
        refill(now: now, bytesPerSecond: rate)
    }

    /// Adds what the time since the last refill earned, up to `burst` (the first fill is a
    /// whole burst). `bytesPerSecond` follows the configuration (it may change while running).
    mutating func refill(now: Instant, bytesPerSecond rate: Int) {
        bytesPerSecond = max(rate, 0)
        guard bytesPerSecond > 0 else { return }
        let cap = burst
        var earned = cap
        if let last = refilledAt {
            // At most a second counts: the bucket is full long before (no overflow either).
            let elapsed = min((now - last).nanoseconds, 1_000_000_000)
            earned = min(Int(clamping: UInt64(bytesPerSecond) * elapsed / 1_000_000_000), cap)
        }
        let added = min(earned, cap - min(available, cap))
        available += added
        grantedBytes &+= UInt64(added)
        refilledAt = now
    }

    /// Whether a packet of `bytes` may go now; when not, it is counted as held back.
    mutating func allows(_ bytes: Int) -> Bool {
        guard bytesPerSecond > 0 else { return true }
        if bytes <= available { return true }
        sendsHeldBack &+= 1
        if !limitedThisTurn {
            limitedThisTurn = true
            limitedTurns &+= 1
        }
        return false
    }

    /// A packet of `bytes` went out (after `allows` said yes).
    mutating func spend(_ bytes: Int, keyframe: Bool) {
        spentBytes &+= UInt64(bytes)
        if keyframe { keyframeBytes &+= UInt64(bytes) }
        guard bytesPerSecond > 0 else { return }
        available -= min(bytes, available)
    }
}
