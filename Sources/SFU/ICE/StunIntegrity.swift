import COpenSSL

/// HMAC-SHA1 for STUN MESSAGE-INTEGRITY (RFC 8489 §14.5), through OpenSSL's one-shot `HMAC`.
enum StunIntegrity {
    /// Writes the 20-byte HMAC-SHA1 of `data` under `key` into `out` (at least 20 bytes).
    /// Returns false if OpenSSL fails (it does not for SHA-1 with any key).
    static func hmacSHA1(
        key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, out: UnsafeMutableRawBufferPointer
    ) -> Bool {
        precondition(out.count >= 20)
        var len: UInt32 = 0
        // OpenSSL rejects a NULL key pointer even for an empty key: give it a valid address.
        var zero: UInt8 = 0
        return withUnsafeMutablePointer(to: &zero) { z in
            let keyPtr = key.baseAddress ?? UnsafeRawPointer(z)
            let dataPtr = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
                ?? UnsafePointer(z)
            let r = HMAC(
                EVP_sha1(), keyPtr, Int32(key.count), dataPtr, data.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &len)
            return r != nil && len == 20
        }
    }

    /// Computes the MESSAGE-INTEGRITY value of `message` whose MESSAGE-INTEGRITY attribute
    /// starts at `attributeOffset`: HMAC over the bytes before it, with the header length
    /// rewritten to end just after it (so a following FINGERPRINT is excluded).
    static func compute(
        message: UnsafeRawBufferPointer, attributeOffset: Int, key: UnsafeRawBufferPointer,
        out: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard attributeOffset >= 20, attributeOffset <= message.count else { return false }
        let patchedLength = UInt16(truncatingIfNeeded: attributeOffset + 24 - 20)
        // Copy the prefix so the length field can be patched without touching the caller's
        // bytes; a temporary allocation of datagram size lives on the stack.
        return withUnsafeTemporaryAllocation(byteCount: attributeOffset, alignment: 8) { tmp in
            tmp.copyMemory(from: UnsafeRawBufferPointer(rebasing: message[0..<attributeOffset]))
            WireBytes.put16(tmp, 2, patchedLength)
            return hmacSHA1(key: key, data: UnsafeRawBufferPointer(tmp), out: out)
        }
    }
}
