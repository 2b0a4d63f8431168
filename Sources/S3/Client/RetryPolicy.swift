/// When and after how long a failed S3 request is tried again: exponential back-off with
/// full jitter (the delay before try n+1 is uniform in 0...min(maxDelay, baseDelay·2^(n-1)),
/// AWS's "Exponential Backoff And Jitter"), so workers that failed together do not come
/// back together. Each request (a PutObject, one part, …) has its own count of tries.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries per request, the first included (1 = no retry).
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
        precondition(maxAttempts >= 1, "at least one attempt")
        precondition(baseDelay >= .zero && maxDelay >= baseDelay, "0 <= baseDelay <= maxDelay")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Whether another try can succeed: 5xx, 429 and 408, S3's RequestTimeout, SlowDown and
    /// InternalError codes (CompleteMultipartUpload reports those inside a 200), timeouts and
    /// connection failures. Not other 4xx (credentials, permissions, bad requests), local
    /// file errors or a shutdown.
    public static func isRetryable(_ error: S3Error) -> Bool {
        switch error {
        case .status(_, let status, let code, _):
            if status >= 500 || status == 429 || status == 408 { return true }
            return ["RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"].contains(code ?? "")
        case .transport(_, _, let retryable, _):
            return retryable
        case .file, .malformedResponse, .confirmation, .invalidRequest, .interrupted, .system:
            return false
        }
    }

    /// The upper bound of the delay after `attempt` failed tries (1-based).
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let shift = min(max(attempt - 1, 0), 62)
        let base = baseDelay.nanoseconds
        let (scaled, overflow) = base.multipliedReportingOverflow(by: Int64(1) << shift)
        return .nanoseconds(min(overflow ? Int64.max : scaled, maxDelay.nanoseconds))
    }

    /// The delay after `attempt` failed tries: uniform in 0...ceiling.
    public func delay(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(afterAttempt: attempt).nanoseconds
        return .nanoseconds(ceiling <= 0 ? 0 : Int64.random(in: 0...ceiling, using: &generator))
    }

    /// The delay before the next try after `error` ended try number `attempt`, or nil to give up.
    public func nextDelay(after error: S3Error, attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration? {
        guard attempt < maxAttempts, Self.isRetryable(error) else { return nil }
        return delay(afterAttempt: attempt, using: &generator)
    }
}
