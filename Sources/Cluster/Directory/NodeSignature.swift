import COpenSSL

/// HMAC-SHA256 of a node's ID and URL with `CLUSTER_TOKEN`, stored with its directory entry:
/// whoever can write to Redis but does not hold the token cannot make a node send clients to
/// a URL of its choosing.
public struct NodeSignature: Sendable {
    private let key: [UInt8]

    public init(token: String) {
        key = Array(token.utf8)
    }

    /// Lower-case hex of HMAC-SHA256(token, id + "\n" + url).
    public func sign(id: String, url: String) -> String {
        let message = Array((id + "\n" + url).utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &digest, &length)
            }
        }
        guard ok != nil else { return "" }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(Int(length) * 2)
        for b in digest.prefix(Int(length)) {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `signature` is this token's for `id` and `url` (compared in constant time).
    public func verify(_ signature: String, id: String, url: String) -> Bool {
        let expected = Array(sign(id: id, url: url).utf8)
        let given = Array(signature.utf8)
        guard !expected.isEmpty, expected.count == given.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<expected.count { diff |= expected[i] ^ given[i] }
        return diff == 0
    }
}
