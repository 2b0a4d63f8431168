import Reactor

/// Collapses many viewers' keyframe requests into at most one upstream PLI/FIR per track per
/// interval, and asks again when the keyframe does not come. A request held back by the
/// interval is not forgotten: unless a keyframe arrives first, it goes up as soon as the
/// interval is over (`retryDue`, checked on every core tick) — a viewer that asked just after
/// the last keyframe passed would otherwise wait for the unanswered-request retry, seconds
/// without a picture.
public struct KeyframeRequestThrottle: Sendable {
    public let minInterval: Duration
    public let retryAfter: Duration
    private var lastRequest: Instant?
    private var waiting = false
    /// A request was held back since the last one sent.
    private var heldBack = false
    /// A request held back for another stream's (`hold(until:)`): not sent before this.
    private var heldUntil: Instant?
    public private(set) var requestsSent: UInt64 = 0
    public private(set) var requestsSuppressed: UInt64 = 0

    public init(minInterval: Duration = .milliseconds(500), retryAfter: Duration = .milliseconds(1000)) {
        self.minInterval = minInterval
        self.retryAfter = retryAfter
    }

    /// A viewer (or the room) wants a keyframe. True when a request should go upstream now.
    public mutating func request(now: Instant) -> Bool {
        waiting = true
        let tooSoon = lastRequest.map { now - $0 < minInterval } ?? false
        if tooSoon || heldUntil.map({ now < $0 }) ?? false {
            requestsSuppressed += 1
            heldBack = true
            return false
        }
        lastRequest = now
        requestsSent += 1
        heldBack = false
        return true
    }

    /// A keyframe arrived from the publisher: nothing is pending any more.
    public mutating func keyframeReceived() {
        waiting = false
        heldBack = false
        heldUntil = nil
    }

    /// A request that is wanted (now or when due) waits until `time`: the publisher was
    /// just asked for another of its streams' keyframes, and an encoder that takes one
    /// request per interval for all its streams would drop this one.
    public mutating func hold(until time: Instant) {
        waiting = true
        heldBack = true
        heldUntil = max(heldUntil ?? time, time)
        requestsSuppressed += 1
    }

    /// When `retryDue` will next say yes; nil when no request is waiting.
    public var nextRetryTime: Instant? {
        guard waiting else { return nil }
        guard let last = lastRequest else { return heldUntil }
        let due = last + (heldBack ? minInterval : retryAfter)
        return heldUntil.map { max($0, due) } ?? due
    }

    /// Called periodically (every tick): true when a held-back request's interval is over, or
    /// a sent one is still unanswered after `retryAfter`.
    public mutating func retryDue(now: Instant) -> Bool {
        guard waiting, let due = nextRetryTime, !(now < due) else { return false }
        lastRequest = now
        requestsSent += 1
        heldBack = false
        heldUntil = nil
        return true
    }

    public var isWaiting: Bool { waiting }
}
