import CShim

/// Unguessable identifiers (session URLs, ICE credentials, SSRCs, transaction ids) from the
/// system's CSPRNG (getrandom). A deterministic simulation seeds its own thread
/// (`seedCallingThread`) so the identifiers replay from its seed; no other thread is affected.
public enum RandomToken {
    /// The generator every identifier is drawn from.
    public struct Source: RandomNumberGenerator {
        private var system = SystemRandomNumberGenerator()
        public init() {}
        public mutating func next() -> UInt64 {
            var v: UInt64 = 0
            return lsfu_token_next(&v) == 1 ? v : system.next()
        }
    }

    /// Tests: identifiers drawn on this thread come from `seed` until `unseedCallingThread`.
    public static func seedCallingThread(_ seed: UInt64) { lsfu_token_seed(seed) }
    public static func unseedCallingThread() { lsfu_token_unseed() }

    /// `byteCount` random bytes as lowercase hex.
    public static func hex(bytes byteCount: Int) -> String {
        var rng = Source()
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(byteCount * 2)
        for _ in 0..<byteCount {
            let b = UInt8.random(in: .min ... .max, using: &rng)
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// ICE ufrag/password characters (RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/").
    public static func iceString(length: Int) -> String {
        var rng = Source()
        let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return String(decoding: (0..<length).map { _ in chars[Int.random(in: 0..<chars.count, using: &rng)] }, as: UTF8.self)
    }

    /// A non-zero random 32-bit SSRC.
    public static func ssrc() -> UInt32 {
        var rng = Source()
        return UInt32.random(in: 1 ... .max, using: &rng)
    }

    /// A random value in `range` (SDP session ids, first RTX sequence numbers, tie-breakers).
    public static func value<T: FixedWidthInteger>(in range: ClosedRange<T>) -> T {
        var rng = Source()
        return T.random(in: range, using: &rng)
    }
}
