/// Why a STUN message was rejected or could not be built.
public enum StunError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a 20-byte STUN header.
    case truncatedHeader(count: Int)
    /// The two top bits of the message type are not zero (RFC 8489 §5).
    case notStun
    /// The magic cookie is not 0x2112A442 (an RFC 3489 message or not STUN at all).
    case badMagicCookie(UInt32)
    /// The header's length field disagrees with the datagram size or is not a multiple of 4.
    case badLength(declared: Int, available: Int)
    /// An attribute's length runs past the end of the message.
    case truncatedAttribute(type: UInt16, offset: Int)
    /// An attribute other than FINGERPRINT follows FINGERPRINT.
    case attributeAfterFingerprint(type: UInt16)
    /// A known attribute has the wrong size or a bad value.
    case malformedAttribute(type: UInt16)
    /// The message has no MESSAGE-INTEGRITY or FINGERPRINT attribute to check.
    case missingAttribute(type: UInt16)
    /// MESSAGE-INTEGRITY does not match the key.
    case integrityMismatch
    /// FINGERPRINT does not match the CRC-32 of the message.
    case fingerprintMismatch
    /// The caller's buffer is too small for the message being built.
    case bufferTooSmall(needed: Int, capacity: Int)

    public var description: String {
        switch self {
        case .truncatedHeader(let n): "STUN message truncated: \(n) bytes, header needs 20"
        case .notStun: "not a STUN message: top two bits of the type are set"
        case .badMagicCookie(let c): "STUN magic cookie is 0x\(String(c, radix: 16)), expected 0x2112a442"
        case .badLength(let d, let a): "STUN length field says \(d) bytes of attributes, datagram has \(a)"
        case .truncatedAttribute(let t, let o):
            "STUN attribute 0x\(String(t, radix: 16)) at offset \(o) runs past the end of the message"
        case .attributeAfterFingerprint(let t): "STUN attribute 0x\(String(t, radix: 16)) follows FINGERPRINT"
        case .malformedAttribute(let t): "STUN attribute 0x\(String(t, radix: 16)) is malformed"
        case .missingAttribute(let t): "STUN attribute 0x\(String(t, radix: 16)) is missing"
        case .integrityMismatch: "STUN MESSAGE-INTEGRITY does not match"
        case .fingerprintMismatch: "STUN FINGERPRINT does not match"
        case .bufferTooSmall(let n, let c): "STUN message needs \(n) bytes, buffer has \(c)"
        }
    }
}

/// The spelling the API notes use; same type.
public typealias STUNError = StunError
