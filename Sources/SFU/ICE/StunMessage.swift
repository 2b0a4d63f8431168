import Glibc
import Reactor

/// A parsed STUN message (RFC 8489): a view over the caller's bytes, validated once.
///
/// The view does not own the bytes; it is valid while they are. Parsing walks the attributes
/// once and remembers where the ones ICE needs are, so the accessors are O(1) and nothing
/// is allocated. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored
/// (RFC 8489 §14.5); anything after FINGERPRINT makes the message invalid.
public struct StunMessage {
    /// The whole message (header and attributes).
    public let bytes: UnsafeRawBufferPointer
    public let type: StunMessageType
    public let transactionID: StunTransactionID

    private var usernameRange: Range<Int>? = nil
    /// PRIORITY (RFC 8445 §7.1.1), if present.
    public private(set) var priority: UInt32? = nil
    /// Whether USE-CANDIDATE is present (the controlling agent nominates this pair).
    public private(set) var useCandidate = false
    /// ICE-CONTROLLING tie-breaker, if present.
    public private(set) var iceControlling: UInt64? = nil
    /// ICE-CONTROLLED tie-breaker, if present.
    public private(set) var iceControlled: UInt64? = nil
    /// ERROR-CODE as a number (e.g. 401), if present.
    public private(set) var errorCode: Int? = nil
    private var errorReasonRange: Range<Int>? = nil
    /// XOR-MAPPED-ADDRESS, decoded, if present.
    public private(set) var xorMappedAddress: SocketAddress? = nil
    /// Offset of the MESSAGE-INTEGRITY attribute header, if present.
    public private(set) var messageIntegrityOffset: Int? = nil
    /// Offset of the FINGERPRINT attribute header, if present.
    public private(set) var fingerprintOffset: Int? = nil
    /// How many comprehension-required attributes (type < 0x8000) this code does not know.
    public private(set) var unknownComprehensionRequiredCount = 0

    /// The class shortcut: `type.messageClass`.
    public var messageClass: StunClass { type.messageClass }
    /// The method shortcut: `type.method`.
    public var method: UInt16 { type.method }

    /// Parses and validates the structure of `bytes`. Integrity and fingerprint are checked
    /// separately, since they need a key or cost a CRC.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(StunError) {
        guard bytes.count >= 20 else { throw .truncatedHeader(count: bytes.count) }
        let rawType = WireBytes.u16(bytes, 0)
        guard rawType & 0xC000 == 0 else { throw .notStun }
        let cookie = WireBytes.u32(bytes, 4)
        guard cookie == stunMagicCookie else { throw .badMagicCookie(cookie) }
        let length = Int(WireBytes.u16(bytes, 2))
        guard length & 3 == 0, 20 + length == bytes.count else {
            throw .badLength(declared: length, available: bytes.count - 20)
        }
        self.bytes = bytes
        self.type = StunMessageType(wire: rawType)
        self.transactionID = StunTransactionID(hi: WireBytes.u32(bytes, 8), lo: WireBytes.u64(bytes, 12))

        var offset = 20
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw .truncatedAttribute(type: 0, offset: offset) }
            let t = WireBytes.u16(bytes, offset)
            let len = Int(WireBytes.u16(bytes, offset + 2))
            let value = offset + 4
            guard value + len <= bytes.count else { throw .truncatedAttribute(type: t, offset: offset) }
            if fingerprintOffset != nil { throw .attributeAfterFingerprint(type: t) }
            if t == StunAttribute.fingerprint {
                guard len == 4 else { throw .malformedAttribute(type: t) }
                fingerprintOffset = offset
            } else if messageIntegrityOffset == nil {
                try record(type: t, value: value, length: len)
            }
            offset = value + (len + 3) & ~3
        }
        // Padding of the last attribute must not run past the declared end.
        guard offset == bytes.count else { throw .truncatedAttribute(type: 0, offset: offset) }
    }

    private mutating func record(type t: UInt16, value: Int, length len: Int) throws(StunError) {
        let b = bytes
        switch t {
        case StunAttribute.username:
            // RFC 8489 §14.3: fewer than 509 bytes.
            guard len <= 513 else { throw .malformedAttribute(type: t) }
            if usernameRange == nil { usernameRange = value..<(value + len) }
        case StunAttribute.messageIntegrity:
            guard len == 20 else { throw .malformedAttribute(type: t) }
            messageIntegrityOffset = value - 4
        case StunAttribute.priority:
            guard len == 4 else { throw .malformedAttribute(type: t) }
            if priority == nil { priority = WireBytes.u32(b, value) }
        case StunAttribute.useCandidate:
            guard len == 0 else { throw .malformedAttribute(type: t) }
            useCandidate = true
        case StunAttribute.iceControlling:
            guard len == 8 else { throw .malformedAttribute(type: t) }
            if iceControlling == nil { iceControlling = WireBytes.u64(b, value) }
        case StunAttribute.iceControlled:
            guard len == 8 else { throw .malformedAttribute(type: t) }
            if iceControlled == nil { iceControlled = WireBytes.u64(b, value) }
        case StunAttribute.errorCode:
            guard len >= 4 else { throw .malformedAttribute(type: t) }
            let cls = Int(b[value + 2] & 0x07)
            let num = Int(b[value + 3])
            guard (3...6).contains(cls), num < 100 else { throw .malformedAttribute(type: t) }
            if errorCode == nil {
                errorCode = cls * 100 + num
                errorReasonRange = (value + 4)..<(value + len)
            }
        case StunAttribute.xorMappedAddress:
            if xorMappedAddress == nil { xorMappedAddress = try decodeXorAddress(value: value, length: len) }
        default:
            if t < 0x8000 && !StunAttribute.isKnownComprehensionRequired(t) {
                unknownComprehensionRequiredCount += 1
            }
        }
    }

    private func decodeXorAddress(value: Int, length len: Int) throws(StunError) -> SocketAddress {
        let b = bytes
        guard len >= 4 else { throw .malformedAttribute(type: StunAttribute.xorMappedAddress) }
        let family = b[value + 1]
        let port = WireBytes.u16(b, value + 2) ^ UInt16(stunMagicCookie >> 16)
        if family == 0x01 && len == 8 {
            let a = WireBytes.u32(b, value + 4) ^ stunMagicCookie
            return SocketAddress(
                ipv4: (UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)),
                port: port)
        }
        if family == 0x02 && len == 20 {
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &s.sin6_addr) { raw in
                // XOR key: magic cookie then the transaction id, i.e. header bytes 4..<20.
                for i in 0..<16 { raw[i] = b[value + 4 + i] ^ b[4 + i] }
            }
            return SocketAddress(sockaddrIn6: s)
        }
        throw .malformedAttribute(type: StunAttribute.xorMappedAddress)
    }

    /// USERNAME bytes, if present.
    public var usernameBytes: UnsafeRawBufferPointer? {
        usernameRange.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
    }

    /// USERNAME as a string (allocates; for logs and the first packet of a session).
    public var username: String? {
        usernameBytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// ERROR-CODE reason phrase (allocates).
    public var errorReason: String? {
        errorReasonRange.map { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
    }

    /// Checks MESSAGE-INTEGRITY with the short-term credential `key` (the password bytes).
    public func validateMessageIntegrity(key: UnsafeRawBufferPointer) throws(StunError) {
        guard let mi = messageIntegrityOffset else { throw .missingAttribute(type: StunAttribute.messageIntegrity) }
        var expected: (UInt64, UInt64, UInt32) = (0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &expected) { out in
            guard StunIntegrity.compute(message: bytes, attributeOffset: mi, key: key, out: out) else {
                return false
            }
            // Constant-time compare: do not leak how many bytes matched.
            var diff: UInt8 = 0
            for i in 0..<20 { diff |= out[i] ^ bytes[mi + 4 + i] }
            return diff == 0
        }
        guard ok else { throw .integrityMismatch }
    }

    /// Checks MESSAGE-INTEGRITY with a key given as a byte array.
    public func validateMessageIntegrity(key: [UInt8]) throws(StunError) {
        let result: StunError? = key.withUnsafeBytes { k in
            do throws(StunError) {
                try validateMessageIntegrity(key: k)
                return nil
            } catch { return error }
        }
        if let result { throw result }
    }

    /// Checks FINGERPRINT: CRC-32 of everything before it, XOR 0x5354554E.
    public func validateFingerprint() throws(StunError) {
        guard let fp = fingerprintOffset else { throw .missingAttribute(type: StunAttribute.fingerprint) }
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<fp])) ^ 0x5354_554E
        guard crc == WireBytes.u32(bytes, fp + 4) else { throw .fingerprintMismatch }
    }

    /// Calls `body` with each attribute (type and value, padding excluded) in wire order,
    /// including those after MESSAGE-INTEGRITY.
    public func forEachAttribute(_ body: (UInt16, UnsafeRawBufferPointer) throws -> Void) rethrows {
        var offset = 20
        while offset + 4 <= bytes.count {
            let t = WireBytes.u16(bytes, offset)
            let len = Int(WireBytes.u16(bytes, offset + 2))
            try body(t, UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + len)]))
            offset += 4 + (len + 3) & ~3
        }
    }

    /// Calls `body` with each comprehension-required attribute type this code does not know
    /// (for the UNKNOWN-ATTRIBUTES of a 420 answer).
    public func forEachUnknownComprehensionRequired(_ body: (UInt16) -> Void) {
        let end = messageIntegrityOffset ?? fingerprintOffset ?? bytes.count
        var offset = 20
        while offset + 4 <= end {
            let t = WireBytes.u16(bytes, offset)
            if t < 0x8000, !StunAttribute.isKnownComprehensionRequired(t) { body(t) }
            offset += 4 + (Int(WireBytes.u16(bytes, offset + 2)) + 3) & ~3
        }
    }
}
