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
    public private(set) var requestsSent: UInt64 = 0
    public private(set) var requestsSuppressed: UInt64 = 0

    public init(minInterval: Duration = .milliseconds(500), retryAfter: Duration = .milliseconds(1000)) {
        self.minInterval = minInterval
        self.retryAfter = retryAfter
    }

    /// A viewer (or the room) wants a keyframe. True when a request should go upstream now.
    public mutating func request(now: Instant) -> Bool {
        waiting = true
        if let last = lastRequest, now - last < minInterval {
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
    }

    /// Called periodically (every tick): true when a held-back request's interval is over, or
    /// a sent one is still unanswered after `retryAfter`.
    /// When `retryDue` will next say yes; nil when no request is waiting.
    public var nextRetryTime: Instant? {
        guard waiting, let last = lastRequest else { return nil }
        return last + (heldBack ? minInterval : retryAfter)
    }

    public mutating func retryDue(now: Instant) -> Bool {
        guard waiting, let last = lastRequest, now - last >= (heldBack ? minInterval : retryAfter) else {
            return false
        }
        lastRequest = now
        requestsSent += 1
        heldBack = false
        return true
    }

    public var isWaiting: Bool { waiting }
}
