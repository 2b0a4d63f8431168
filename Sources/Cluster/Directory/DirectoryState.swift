import Reactor

/// The directory's bookkeeping without I/O or a clock (`now` is an argument): whether Redis
/// is reachable, when to reconnect and to beat, which rooms this node claims and which of
/// those to keep or let go. `ClusterDirectory` runs it on the directory thread and does what
/// it says against Redis; tests drive it alone.
///
/// Claims follow the local publishers, reconciled at every heartbeat from the rooms the cores
/// report: a claimed room whose publisher is gone (ended, or a WHIP that failed after its
/// claim) is released once it is older than `settle`; a room with a live publisher is
/// refreshed, and claimed again if Redis lost it (a restart without persistence). Nothing is
/// released from an incomplete report (a core that did not answer in time).
public struct DirectoryState: Sendable {
    public enum Link: Sendable, Equatable {
        case up
        case down(reason: String)
    }

    /// What one heartbeat does with the claims.
    public struct HeartbeatPlan: Sendable, Equatable {
        /// Rooms to claim or keep (sorted, at most `ClusterSettings.maxClaims`).
        public var refresh: [String]
        /// Rooms to let go (sorted).
        public var release: [String]
    }

    public private(set) var link: Link = .down(reason: "not connected yet")
    /// The node's entry was written since the link last came up.
    public private(set) var registered = false
    /// Rooms this node holds in the directory, with when it (re)claimed each.
    public private(set) var claims: [String: Instant] = [:]
    public private(set) var nextHeartbeat: Instant
    public private(set) var nextConnect: Instant
    /// Rooms another node turned out to hold while this node had a publisher for them (a split
    /// brain after an outage); each is counted once and no longer claimed here.
    public private(set) var conflicts = 0
    /// Rooms lost that way whose local publisher is still live: not claimed again until it
    /// ends (no fight over the key at every beat).
    public private(set) var conflicted: Set<String> = []

    public let interval: Duration
    /// How long a claim may stand without a live publisher behind it.
    public let settle: Duration
    public let maxClaims: Int
    private var backoff: Duration
    static let minBackoff = Duration.milliseconds(250)

    public init(interval: Duration, maxClaims: Int = ClusterSettings.maxClaims, now: Instant) {
        self.interval = interval
        // Two beats: a claim made just after one beat's report was taken shows up in the next.
        self.settle = interval + interval
        self.maxClaims = maxClaims
        nextHeartbeat = now
        nextConnect = now
        backoff = Self.minBackoff
    }

    public var isUp: Bool { link == .up }

    // MARK: - The connection

    public func shouldConnect(now: Instant) -> Bool { !isUp && now >= nextConnect }

    /// Connected: register at once.
    public mutating func connected(now: Instant) {
        link = .up
        backoff = Self.minBackoff
        nextHeartbeat = now
    }

    /// The connection failed: requests are refused until it is back; reconnect after a
    /// back-off that doubles up to one heartbeat interval.
    public mutating func failed(_ reason: String, now: Instant) {
        link = .down(reason: reason)
        registered = false
        nextConnect = now + backoff
        backoff = min(backoff + backoff, max(interval, Self.minBackoff))
    }

    // MARK: - Requests

    /// The answer to give at once without Redis (nil: ask Redis).
    public func immediateAnswer(to request: DirectoryRequest) -> DirectoryReply? {
        if case .down(let reason) = link { return .unavailable(reason: "cluster directory unavailable (\(reason))") }
        if case .claim(let room) = request, claims[room] == nil, claims.count >= maxClaims {
            return .unavailable(reason: "this node holds \(maxClaims) rooms already")
        }
        return nil
    }

    /// Redis answered a claim: `holder` nil = this node holds the room now.
    public mutating func claimAnswered(room: String, holder: String?, now: Instant) {
        if holder == nil {
            claims[room] = now
        } else {
            claims.removeValue(forKey: room)
        }
    }

    // MARK: - Heartbeat

    public func heartbeatDue(now: Instant) -> Bool { isUp && now >= nextHeartbeat }

    /// Beat soon (a publisher ended: let its room go without waiting a whole interval).
    public mutating func beatSoon(now: Instant) {
        if now < nextHeartbeat { nextHeartbeat = now }
    }

    /// What to refresh and release. `live`: the rooms with a publisher on this node;
    /// `complete`: every core reported.
    public mutating func plan(now: Instant, live: Set<String>, complete: Bool) -> HeartbeatPlan {
        if complete { conflicted.formIntersection(live) }
        var keep = live.subtracting(conflicted)
        var release: [String] = []
        for (room, at) in claims where !live.contains(room) {
            if complete && now - at >= settle { release.append(room) } else { keep.insert(room) }
        }
        return HeartbeatPlan(refresh: Array(keep.sorted().prefix(maxClaims)), release: release.sorted())
    }

    /// The heartbeat went through. `lost`: rooms of `plan.refresh` that another node holds.
    public mutating func heartbeatDone(_ plan: HeartbeatPlan, lost: Set<String>, now: Instant) {
        registered = true
        for room in plan.release { claims.removeValue(forKey: room) }
        for room in plan.refresh where !lost.contains(room) && claims[room] == nil { claims[room] = now }
        for room in lost {
            claims.removeValue(forKey: room)
            conflicted.insert(room)
            conflicts += 1
        }
        nextHeartbeat = now + interval
    }

    /// The heartbeat got an error reply (the link is still up): try again next interval.
    public mutating func heartbeatFailed(now: Instant) {
        registered = false
        nextHeartbeat = now + interval
    }

    /// When the thread must wake next (without requests).
    public var nextWake: Instant { isUp ? nextHeartbeat : nextConnect }
}
