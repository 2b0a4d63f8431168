import Reactor

/// Writes a STUN message into a caller's buffer, attribute by attribute, without allocating.
///
/// Add MESSAGE-INTEGRITY and then FINGERPRINT last: each covers everything written before
/// it. If the buffer runs out, later calls do nothing and `finish()` throws, so a caller
/// checks once instead of after every attribute.
public struct StunMessageBuilder {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far (header included).
    public private(set) var length: Int
    private var needed: Int

    /// Starts a message of `type` with `transactionID` at the start of `buffer`.
    public init(into buffer: UnsafeMutableRawBufferPointer, type: StunMessageType, transactionID: StunTransactionID) {
        self.buffer = buffer
        self.needed = 20
        guard buffer.count >= 20 else {
            length = 0
            return
        }
        length = 20
        WireBytes.put16(buffer, 0, type.wire)
        WireBytes.put16(buffer, 2, 0)
        WireBytes.put32(buffer, 4, stunMagicCookie)
        WireBytes.put32(buffer, 8, transactionID.hi)
        WireBytes.put64(buffer, 12, transactionID.lo)
    }

    /// True once an attribute did not fit.
    public var overflowed: Bool { needed > length }

    /// Reserves an attribute with a `valueLength`-byte value, zeroes its padding, updates the
    /// header length, and returns the value offset (nil if it does not fit).
    private mutating func reserve(type t: UInt16, valueLength: Int) -> Int? {
        let padded = (valueLength + 3) & ~3
        guard !overflowed, length + 4 + padded <= buffer.count else {
            needed += 4 + padded
            return nil
        }
        let offset = length
        WireBytes.put16(buffer, offset, t)
        WireBytes.put16(buffer, offset + 2, UInt16(valueLength))
        for i in (offset + 4 + valueLength)..<(offset + 4 + padded) { buffer[i] = 0 }
        length += 4 + padded
        needed = length
        WireBytes.put16(buffer, 2, UInt16(length - 20))
        return offset + 4
    }

    /// Adds an attribute with raw `value` bytes (at most 65 535).
    public mutating func addAttribute(type t: UInt16, value: UnsafeRawBufferPointer) {
        guard value.count <= 0xFFFF, let o = reserve(type: t, valueLength: value.count) else { return }
        if let base = value.baseAddress, value.count > 0 {
            (buffer.baseAddress! + o).copyMemory(from: base, byteCount: value.count)
        }
    }

    /// Adds USERNAME from bytes.
    public mutating func addUsername(_ value: UnsafeRawBufferPointer) {
        addAttribute(type: StunAttribute.username, value: value)
    }

    /// Adds USERNAME from a string.
    public mutating func addUsername(_ value: String) {
        var v = value
        v.withUTF8 { addAttribute(type: StunAttribute.username, value: UnsafeRawBufferPointer($0)) }
    }

    /// Adds SOFTWARE (comprehension-optional description of the agent).
    public mutating func addSoftware(_ value: StaticString) {
        value.withUTF8Buffer { addAttribute(type: StunAttribute.software, value: UnsafeRawBufferPointer($0)) }
    }

    /// Adds PRIORITY.
    public mutating func addPriority(_ value: UInt32) {
        guard let o = reserve(type: StunAttribute.priority, valueLength: 4) else { return }
        WireBytes.put32(buffer, o, value)
    }

    /// Adds USE-CANDIDATE (no value).
    public mutating func addUseCandidate() {
        _ = reserve(type: StunAttribute.useCandidate, valueLength: 0)
    }

    /// Adds ICE-CONTROLLING with the agent's tie-breaker.
    public mutating func addIceControlling(_ tieBreaker: UInt64) {
        guard let o = reserve(type: StunAttribute.iceControlling, valueLength: 8) else { return }
        WireBytes.put64(buffer, o, tieBreaker)
    }

    /// Adds ICE-CONTROLLED with the agent's tie-breaker.
    public mutating func addIceControlled(_ tieBreaker: UInt64) {
        guard let o = reserve(type: StunAttribute.iceControlled, valueLength: 8) else { return }
        WireBytes.put64(buffer, o, tieBreaker)
    }

    /// Adds XOR-MAPPED-ADDRESS for `address` (RFC 8489 §14.2).
    public mutating func addXorMappedAddress(_ address: SocketAddress) {
        let len = address.isIPv6 ? 20 : 8
        guard let o = reserve(type: StunAttribute.xorMappedAddress, valueLength: len) else { return }
        buffer[o] = 0
        buffer[o + 1] = address.isIPv6 ? 0x02 : 0x01
        WireBytes.put16(buffer, o + 2, address.port ^ UInt16(stunMagicCookie >> 16))
        if address.isIPv6 {
            WireBytes.put64(buffer, o + 4, address.hi)
            WireBytes.put64(buffer, o + 12, address.lo)
            // XOR with magic cookie and transaction id: header bytes 4..<20.
            for i in 0..<16 { buffer[o + 4 + i] ^= buffer[4 + i] }
        } else {
            WireBytes.put32(buffer, o + 4, UInt32(truncatingIfNeeded: address.hi) ^ stunMagicCookie)
        }
    }

    /// Adds ERROR-CODE (`code` in 300...699) with a reason phrase.
    public mutating func addErrorCode(_ code: Int, reason: StaticString) {
        reason.withUTF8Buffer { r in
            guard let o = reserve(type: StunAttribute.errorCode, valueLength: 4 + r.count) else { return }
            WireBytes.put16(buffer, o, 0)
            buffer[o + 2] = UInt8(truncatingIfNeeded: code / 100)
            buffer[o + 3] = UInt8(truncatingIfNeeded: code % 100)
            if let base = r.baseAddress, r.count > 0 {
                (buffer.baseAddress! + o + 4).copyMemory(from: base, byteCount: r.count)
            }
        }
    }

    /// Adds UNKNOWN-ATTRIBUTES listing the unknown comprehension-required attributes of
    /// `request` (for a 420 answer, RFC 8489 §14.9).
    public mutating func addUnknownAttributes(of request: StunMessage) {
        let n = request.unknownComprehensionRequiredCount
        guard let o = reserve(type: StunAttribute.unknownAttributes, valueLength: 2 * n) else { return }
        var i = 0
        request.forEachUnknownComprehensionRequired { t in
            if i < n { WireBytes.put16(buffer, o + 2 * i, t) }
            i += 1
        }
    }

    /// Adds MESSAGE-INTEGRITY: HMAC-SHA1 under `key` over everything written so far.
    public mutating func addMessageIntegrity(key: UnsafeRawBufferPointer) {
        guard let o = reserve(type: StunAttribute.messageIntegrity, valueLength: 20) else { return }
        let message = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let out = UnsafeMutableRawBufferPointer(rebasing: buffer[o..<(o + 20)])
        if !StunIntegrity.compute(message: message, attributeOffset: o - 4, key: key, out: out) {
            needed = Int.max / 2  // cannot happen with OpenSSL's SHA-1; fail the build loudly.
        }
    }

    /// Adds MESSAGE-INTEGRITY with a key given as a byte array.
    public mutating func addMessageIntegrity(key: [UInt8]) {
        key.withUnsafeBytes { addMessageIntegrity(key: $0) }
    }

    /// Adds FINGERPRINT: CRC-32 of everything written so far, XOR 0x5354554E. Must be last.
    public mutating func addFingerprint() {
        guard let o = reserve(type: StunAttribute.fingerprint, valueLength: 4) else { return }
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<(o - 4)])) ^ 0x5354_554E
        WireBytes.put32(buffer, o, crc)
    }

    /// The message length, or `bufferTooSmall` if something did not fit.
    public func finish() throws(StunError) -> Int {
        guard !overflowed else { throw .bufferTooSmall(needed: needed, capacity: buffer.count) }
        return length
    }
}
