import Reactor

/// Collapses many viewers' keyframe requests into at most one upstream PLI/FIR per track per
/// interval, and asks again when the keyframe does not come.
public struct KeyframeRequestThrottle: Sendable {
    public let minInterval: Duration
    public let retryAfter: Duration
    private var lastRequest: Instant?
    private var waiting = false
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
            return false
        }
        lastRequest = now
        requestsSent += 1
        return true
    }

    /// A keyframe arrived from the publisher: nothing is pending any more.
    public mutating func keyframeReceived() { waiting = false }

    /// Called periodically: true when a request is still unanswered after `retryAfter`.
    public mutating func retryDue(now: Instant) -> Bool {
        guard waiting, let last = lastRequest, now - last >= retryAfter else { return false }
        lastRequest = now
        requestsSent += 1
        return true
    }

    public var isWaiting: Bool { waiting }
}
