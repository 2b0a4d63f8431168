/// STUN message class (RFC 8489 §5): two bits spread over the message type.
public enum StunClass: UInt16, Sendable {
    case request = 0b00
    case indication = 0b01
    case successResponse = 0b10
    case errorResponse = 0b11
}

/// A STUN message type: a 12-bit method and a class, interleaved in 14 bits.
public struct StunMessageType: Hashable, Sendable {
    /// The method (0x001 is Binding, the only one ICE uses).
    public var method: UInt16
    public var messageClass: StunClass

    public static let bindingMethod: UInt16 = 0x001
    public static let bindingRequest = StunMessageType(method: bindingMethod, messageClass: .request)
    public static let bindingSuccess = StunMessageType(method: bindingMethod, messageClass: .successResponse)
    public static let bindingError = StunMessageType(method: bindingMethod, messageClass: .errorResponse)
    public static let bindingIndication = StunMessageType(method: bindingMethod, messageClass: .indication)

    public init(method: UInt16, messageClass: StunClass) {
        self.method = method & 0x0FFF
        self.messageClass = messageClass
    }

    /// Decodes the 16-bit wire value (top two bits must already be checked as zero).
    public init(wire v: UInt16) {
        let m = (v & 0x000F) | ((v & 0x00E0) >> 1) | ((v & 0x3E00) >> 2)
        let c = ((v & 0x0010) >> 4) | ((v & 0x0100) >> 7)
        self.method = m
        self.messageClass = StunClass(rawValue: c) ?? .request
    }

    /// The 16-bit wire value: M11..M7 C1 M6..M4 C0 M3..M0.
    public var wire: UInt16 {
        let m = method
        let c = messageClass.rawValue
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }
}

/// A STUN transaction id: 96 bits, kept inline.
public struct StunTransactionID: Hashable, Sendable {
    public var hi: UInt32
    public var lo: UInt64

    public init(hi: UInt32, lo: UInt64) {
        self.hi = hi
        self.lo = lo
    }

    /// Draws 96 random bits from `generator`.
    public init(using generator: inout some RandomNumberGenerator) {
        hi = UInt32(truncatingIfNeeded: generator.next())
        lo = generator.next()
    }
}

/// Attribute type numbers used by ICE (RFC 8489 §18.3, RFC 8445 §16.1).
public enum StunAttribute {
    public static let mappedAddress: UInt16 = 0x0001
    public static let username: UInt16 = 0x0006
    public static let messageIntegrity: UInt16 = 0x0008
    public static let errorCode: UInt16 = 0x0009
    public static let unknownAttributes: UInt16 = 0x000A
    public static let realm: UInt16 = 0x0014
    public static let nonce: UInt16 = 0x0015
    public static let messageIntegritySHA256: UInt16 = 0x001C
    public static let passwordAlgorithm: UInt16 = 0x001D
    public static let userhash: UInt16 = 0x001E
    public static let xorMappedAddress: UInt16 = 0x0020
    public static let priority: UInt16 = 0x0024
    public static let useCandidate: UInt16 = 0x0025
    public static let software: UInt16 = 0x8022
    public static let fingerprint: UInt16 = 0x8028
    public static let iceControlled: UInt16 = 0x8029
    public static let iceControlling: UInt16 = 0x802A

    /// Comprehension-required attributes this implementation understands (or knowingly
    /// ignores, like REALM/NONCE of the long-term mechanism it does not use).
    @inline(__always)
    static func isKnownComprehensionRequired(_ t: UInt16) -> Bool {
        switch t {
        case mappedAddress, username, messageIntegrity, errorCode, unknownAttributes, realm, nonce,
            messageIntegritySHA256, passwordAlgorithm, userhash, xorMappedAddress, priority, useCandidate:
            true
        default: false
        }
    }
}

/// The STUN magic cookie (RFC 8489 §5).
let stunMagicCookie: UInt32 = 0x2112_A442
