/// Unguessable identifiers (session URLs, ICE credentials) from the system's CSPRNG (getrandom).
public enum RandomToken {
    /// `byteCount` random bytes as lowercase hex.
    public static func hex(bytes byteCount: Int) -> String {
        var rng = SystemRandomNumberGenerator()
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
        var rng = SystemRandomNumberGenerator()
        let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return String(decoding: (0..<length).map { _ in chars[Int.random(in: 0..<chars.count, using: &rng)] }, as: UTF8.self)
    }

    /// A non-zero random 32-bit SSRC.
    public static func ssrc() -> UInt32 {
        var rng = SystemRandomNumberGenerator()
        return UInt32.random(in: 1 ... .max, using: &rng)
    }
}
