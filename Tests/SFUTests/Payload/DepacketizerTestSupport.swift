@testable import SFU

/// Runs whole frames through a depacketizer the way the recorder does.
func depacketize<D: RTPDepacketizer>(_ d: inout D, _ packets: [[UInt8]]) -> Result<[UInt8], DepacketizerError> {
    var out: [UInt8] = []
    d.beginFrame(into: &out)
    for p in packets {
        let failure = p.withUnsafeBytes { b -> DepacketizerError? in
            do throws(DepacketizerError) {
                try d.append(b, into: &out)
                return nil
            } catch {
                return error
            }
        }
        if let failure { return .failure(failure) }
    }
    do throws(DepacketizerError) {
        try d.endFrame(into: &out)
    } catch {
        return .failure(error)
    }
    return .success(out)
}

func traits<D: RTPDepacketizer>(_: D.Type, _ bytes: [UInt8]) -> PayloadTraits? {
    bytes.withUnsafeBytes { D.traits(of: $0) }
}

/// Deterministic xorshift, for the garbage-input tests.
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Feeds random packets, frames of 1-4, into a depacketizer: it may throw, never trap.
func feedGarbage<D: RTPDepacketizer>(_ d: inout D, seed: UInt64, rounds: Int = 5000) {
    var rng = TestRNG(state: seed)
    for _ in 0..<rounds {
        let packets = (0..<Int(1 + rng.next() % 4)).map { _ in rng.bytes(Int(rng.next() % 40)) }
        for p in packets { _ = traits(D.self, p) }
        _ = depacketize(&d, packets)
    }
}
