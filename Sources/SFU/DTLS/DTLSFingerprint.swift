import COpenSSL

/// A certificate fingerprint as SDP carries it (RFC 8122 §5: `a=fingerprint:sha-256 AB:CD:..`).
public struct DTLSFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// Lower-case hash name as in SDP ("sha-256").
    public let algorithm: String
    /// The digest bytes.
    public let bytes: [UInt8]

    /// Hash names SDP may use (RFC 8122 §5, IANA "Hash Function Textual Names") → OpenSSL's.
    private static let openSSLNames: [String: String] = [
        "sha-1": "SHA1", "sha-224": "SHA224", "sha-256": "SHA256", "sha-384": "SHA384", "sha-512": "SHA512",
    ]

    /// Parses an SDP fingerprint: `algorithm` ("sha-256", any case) and `value` ("AB:CD:..").
    public init(algorithm: String, value: String) throws(DTLSError) {
        let name = algorithm.lowercased()
        guard let md = Self.digest(named: name) else { throw .unsupportedFingerprintAlgorithm(algorithm) }
        let expected = Int(EVP_MD_get_size(md))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(expected)
        // Exactly "XX:XX:..:XX" (RFC 8122 §5); anything else is malformed, not guessed at.
        let utf8 = Array(value.utf8)
        guard utf8.count == expected * 3 - 1 else { throw .malformedFingerprint(value) }
        var i = 0
        while i < utf8.count {
            guard let hi = Self.nibble(utf8[i]), let lo = Self.nibble(utf8[i + 1]) else {
                throw .malformedFingerprint(value)
            }
            bytes.append(hi << 4 | lo)
            if i + 2 < utf8.count, utf8[i + 2] != UInt8(ascii: ":") { throw .malformedFingerprint(value) }
            i += 3
        }
        self.algorithm = name
        self.bytes = bytes
    }

    /// The fingerprint of a DER certificate (`X509*`) with the given hash.
    init(certificate: OpaquePointer, algorithm: String = "sha-256") throws(DTLSError) {
        guard let md = Self.digest(named: algorithm) else { throw .unsupportedFingerprintAlgorithm(algorithm) }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, md, &out, &length) == 1 else { throw .setupFailed("X509_digest failed") }
        self.algorithm = algorithm
        self.bytes = Array(out[0..<Int(length)])
    }

    /// Whether `certificate` (`X509*`) hashes to this fingerprint.
    func matches(certificate: OpaquePointer) -> Bool {
        guard let other = try? DTLSFingerprint(certificate: certificate, algorithm: algorithm) else { return false }
        return other.bytes == bytes
    }

    /// Upper-case colon-separated hex, the part after the algorithm in SDP.
    public var value: String {
        let digits: [Character] = Array("0123456789ABCDEF")
        var s = ""
        s.reserveCapacity(bytes.count * 3)
        for (i, b) in bytes.enumerated() {
            if i > 0 { s.append(":") }
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0x0f)])
        }
        return s
    }

    /// `"sha-256 AB:CD:.."`, the whole `a=fingerprint:` attribute value.
    public var description: String { "\(algorithm) \(value)" }

    private static func digest(named name: String) -> OpaquePointer? {
        guard let openSSLName = openSSLNames[name] else { return nil }
        return EVP_get_digestbyname(openSSLName)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
