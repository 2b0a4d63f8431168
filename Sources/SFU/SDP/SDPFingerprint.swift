/// `a=fingerprint:<algorithm> <hex:hex:…>` (RFC 8122): the hash of the peer's DTLS certificate.
public struct SDPFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// Lowercase hash name, e.g. `sha-256`.
    public var algorithm: String
    /// Uppercase colon-separated hex bytes, e.g. `AB:CD:…`.
    public var value: String

    public init(algorithm: String, value: String) {
        self.algorithm = algorithm.lowercased()
        self.value = value.uppercased()
    }

    /// Parses the attribute value; nil unless it is `<token> <hex bytes separated by colons>`.
    public init?(attributeValue: Substring) {
        let parts = SDPSyntax.fields(attributeValue)
        guard parts.count == 2, SDPSyntax.isToken(parts[0]), parts[0].utf8.count <= 32 else { return nil }
        let bytes = SDPSyntax.split(parts[1], UInt8(ascii: ":"), omittingEmpty: false)
        guard bytes.count >= 16, bytes.count <= 64 else { return nil }
        for byte in bytes {
            guard byte.utf8.count == 2, byte.utf8.allSatisfy(SDPSyntax.isHexDigit) else { return nil }
        }
        self.init(algorithm: String(parts[0]), value: String(parts[1]))
    }

    /// The bytes of the hash.
    public var bytes: [UInt8] {
        value.split(separator: ":").compactMap { UInt8($0, radix: 16) }
    }

    public var description: String { "\(algorithm) \(value)" }
}
