import Testing

@testable import S3

/// A seeded generator: the same seed gives the same delays.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    static func status(_ code: Int, _ s3Code: String? = nil) -> S3Error {
        .status(operation: "PutObject", status: code, code: s3Code, message: nil)
    }

    @Test("5xx, 429, 408, S3's RequestTimeout/SlowDown/InternalError and transport failures are retried")
    func retried() {
        for error in [
            Self.status(500), Self.status(503, "SlowDown"), Self.status(429), Self.status(408), Self.status(400, "RequestTimeout"),
            Self.status(200, "InternalError"),
            S3Error.transport(operation: "UploadPart 2", curlCode: 56, retryable: true, message: "Connection reset by peer"),
        ] {
            #expect(RetryPolicy.isRetryable(error), "\(error)")
        }
    }

    @Test("other 4xx, file errors, bad answers and a shutdown are not")
    func notRetried() {
        for error in [
            Self.status(403, "SignatureDoesNotMatch"), Self.status(403, "InvalidAccessKeyId"), Self.status(404, "NoSuchBucket"),
            Self.status(400, "EntityTooSmall"), Self.status(400),
            S3Error.transport(operation: "PutObject", curlCode: 60, retryable: false, message: "SSL certificate problem"),
            .file(path: "/x", errno: 2), .malformedResponse(operation: "CreateMultipartUpload", detail: "no UploadId"),
            .confirmation(detail: "size"), .interrupted(operation: "PutObject"), .invalidRequest("key"),
        ] {
            #expect(!RetryPolicy.isRetryable(error), "\(error)")
        }
    }

    @Test("gives up after maxAttempts tries, the first included")
    func attempts() {
        let policy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        var rng = SplitMix64(state: 1)
        #expect(policy.nextDelay(after: Self.status(503), attempt: 1, using: &rng) != nil)
        #expect(policy.nextDelay(after: Self.status(503), attempt: 2, using: &rng) != nil)
        #expect(policy.nextDelay(after: Self.status(503), attempt: 3, using: &rng) == nil)
        #expect(policy.nextDelay(after: Self.status(403), attempt: 1, using: &rng) == nil)
        #expect(RetryPolicy(maxAttempts: 1).nextDelay(after: Self.status(503), attempt: 1, using: &rng) == nil)
    }

    @Test("the ceiling doubles from baseDelay and stops at maxDelay, without overflow")
    func ceilings() {
        let policy = RetryPolicy(maxAttempts: 100, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect((1...6).map { policy.ceiling(afterAttempt: $0) } == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ])
        #expect(policy.ceiling(afterAttempt: 70) == .seconds(1))
        #expect(policy.ceiling(afterAttempt: Int.max) == .seconds(1))
        #expect(RetryPolicy(maxAttempts: 2, baseDelay: .zero, maxDelay: .zero).ceiling(afterAttempt: 3) == .zero)
    }

    @Test("delays are full jitter: within 0...ceiling, spread over it, and reproducible from a seed")
    func jitter() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), maxDelay: .seconds(2))
        var a = SplitMix64(state: 42)
        var b = SplitMix64(state: 42)
        for attempt in 1...8 {
            let ceiling = policy.ceiling(afterAttempt: attempt)
            var lowest = ceiling
            var highest = Duration.zero
            for _ in 0..<200 {
                let delay = policy.delay(afterAttempt: attempt, using: &a)
                #expect(delay >= .zero && delay <= ceiling)
                #expect(delay == policy.delay(afterAttempt: attempt, using: &b))
                lowest = min(lowest, delay)
                highest = max(highest, delay)
            }
            // 200 uniform draws: the lowest below a quarter, the highest above three quarters.
            #expect(lowest < ceiling / 4 && highest > ceiling * 3 / 4, "attempt \(attempt): \(lowest)...\(highest) of \(ceiling)")
        }
        var c = SplitMix64(state: 43)
        var d = SplitMix64(state: 42)
        let other = (0..<10).map { _ in policy.delay(afterAttempt: 5, using: &c) }
        #expect(other != (0..<10).map { _ in policy.delay(afterAttempt: 5, using: &d) })
    }
}
