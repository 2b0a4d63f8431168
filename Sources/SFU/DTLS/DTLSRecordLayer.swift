import COpenSSL

/// The DTLS 1.2 record protection a connected `DTLSTransport` keeps once it frees OpenSSL's
/// `SSL` (RFC 6347 §4.1, AEAD records as in RFC 5288 and RFC 7905).
///
/// Why: after the handshake a WebRTC DTLS association only ever carries an alert
/// (close_notify either way, or a fatal alert from the peer) and, rarely, a retransmitted
/// Finished. OpenSSL 3.0 keeps ≈40 KB per connected `SSL` for that (a 21 KB handshake buffer
/// it keeps for DTLS, the `SSL` itself, the session with the peer certificate, cipher
/// contexts), which was the largest part of a viewer's memory. This keeps the key block
/// (≈100 bytes) and creates a cipher context only when an alert is sealed or opened.
///
/// Only the AEAD suites the identity offers are supported (AES-128/256-GCM,
/// ChaCha20-Poly1305); `DTLSTransport` verifies the derived keys on the handshake's own
/// Finished records before it drops the `SSL`, and keeps the `SSL` otherwise.
struct DTLSRecordLayer {
    static let tagLength = 16

    /// `NID_aes_128_gcm`, `NID_aes_256_gcm` or `NID_chacha20_poly1305`.
    let cipherNID: Int32
    let keyLength: Int
    /// 4 (GCM: salt, the nonce's other 8 bytes travel in the record) or 12 (ChaCha20).
    let ivLength: Int
    /// `client_write_key | server_write_key | client_write_IV | server_write_IV`.
    private let keyBlock: [UInt8]
    let role: DTLSRole
    /// The epoch records are sealed and opened in (1 after the only handshake).
    let epoch: UInt16
    /// The next sequence number to seal with (after the last record OpenSSL sent).
    var nextWriteSequence: UInt64

    /// Derives the key block from an established `ssl`; nil for a suite not handled here.
    init?(ssl: OpaquePointer, role: DTLSRole, epoch: UInt16, nextWriteSequence: UInt64) {
        guard let cipher = SSL_get_current_cipher(ssl), SSL_CIPHER_is_aead(cipher) == 1 else { return nil }
        let nid = SSL_CIPHER_get_cipher_nid(cipher)
        switch nid {
        case NID_aes_128_gcm: (keyLength, ivLength) = (16, 4)
        case NID_aes_256_gcm: (keyLength, ivLength) = (32, 4)
        case NID_chacha20_poly1305: (keyLength, ivLength) = (32, 12)
        default: return nil
        }
        var block = [UInt8](repeating: 0, count: 2 * (keyLength + ivLength))
        guard lsfu_dtls12_key_block(ssl, &block, block.count) == 1 else { return nil }
        cipherNID = nid
        keyBlock = block
        self.role = role
        self.epoch = epoch
        self.nextWriteSequence = nextWriteSequence
    }

    /// Bytes a sealed record adds to its plaintext (explicit nonce for GCM, tag).
    var overhead: Int { (ivLength == 4 ? 8 : 0) + Self.tagLength }

    /// Seals one record of `type` (21 alert, 22 handshake, 23 application data) into a new
    /// datagram, with the next write sequence number; nil if OpenSSL's AEAD fails.
    mutating func seal(type: UInt8, plaintext: [UInt8]) -> [UInt8]? {
        let sequence = nextWriteSequence
        guard sequence < 1 << 48 else { return nil }
        nextWriteSequence += 1
        let explicit = ivLength == 4 ? 8 : 0
        let length = explicit + plaintext.count + Self.tagLength
        var record = [UInt8](repeating: 0, count: DTLSRecordHeader.length + length)
        record[0] = type
        record[1] = 0xFE
        record[2] = 0xFD
        let epochAndSequence = UInt64(epoch) << 48 | sequence
        for i in 0..<8 { record[3 + i] = UInt8(truncatingIfNeeded: epochAndSequence >> (56 - 8 * i)) }
        record[11] = UInt8(length >> 8)
        record[12] = UInt8(truncatingIfNeeded: length)
        // GCM's explicit nonce: the record's epoch and sequence number, as OpenSSL does.
        for i in 0..<explicit { record[DTLSRecordHeader.length + i] = record[3 + i] }
        let nonce = self.nonce(write: true, epochAndSequence: epochAndSequence)
        let aad = additionalData(epochAndSequence: epochAndSequence, type: type, length: plaintext.count)
        let ok = record.withUnsafeMutableBufferPointer { out -> Bool in
            let body = out.baseAddress! + DTLSRecordHeader.length + explicit
            let tag = body + plaintext.count
            return lsfu_aead_crypt(
                1, cipherNID, key(write: true), nonce, aad, Int32(aad.count), plaintext, Int32(plaintext.count), body,
                tag) == 1
        }
        return ok ? record : nil
    }

    /// Opens the record at `offset` of `datagram` (header included); the plaintext, or nil
    /// if it is not an authentic record of our read epoch. `withWriteKey` opens one of our
    /// own records instead (to check the derived keys against what OpenSSL sealed).
    func open(_ datagram: UnsafeRawBufferPointer, recordAt offset: Int, withWriteKey: Bool = false)
        -> (type: UInt8, plaintext: [UInt8])?
    {
        guard offset >= 0, datagram.count - offset >= DTLSRecordHeader.length else { return nil }
        let type = datagram[offset]
        var epochAndSequence: UInt64 = 0
        for i in 0..<8 { epochAndSequence = epochAndSequence << 8 | UInt64(datagram[offset + 3 + i]) }
        guard UInt16(truncatingIfNeeded: epochAndSequence >> 48) == epoch else { return nil }
        let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
        guard length >= overhead, length <= datagram.count - offset - DTLSRecordHeader.length else { return nil }
        let body = offset + DTLSRecordHeader.length
        let explicit = ivLength == 4 ? 8 : 0
        let plaintextLength = length - overhead
        var nonce = [UInt8](repeating: 0, count: 12)
        if explicit == 8 {
            let iv = ivRange(write: withWriteKey)
            for i in 0..<4 { nonce[i] = keyBlock[iv.lowerBound + i] }
            for i in 0..<8 { nonce[4 + i] = datagram[body + i] }
        } else {
            nonce = self.nonce(write: withWriteKey, epochAndSequence: epochAndSequence)
        }
        let aad = additionalData(epochAndSequence: epochAndSequence, type: type, length: plaintextLength)
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        for i in 0..<Self.tagLength { tag[i] = datagram[body + explicit + plaintextLength + i] }
        var plaintext = [UInt8](repeating: 0, count: max(plaintextLength, 1))
        let ok = plaintext.withUnsafeMutableBufferPointer { out in
            lsfu_aead_crypt(
                0, cipherNID, key(write: withWriteKey), nonce, aad, Int32(aad.count),
                datagram.baseAddress! + body + explicit, Int32(plaintextLength), out.baseAddress!, &tag) == 1
        }
        guard ok, plaintextLength > 0 else { return nil }
        return (type, plaintext)
    }

    // MARK: - Key block layout (RFC 5246 §6.3; AEAD suites have no MAC keys)

    /// Our write direction is the client's when we are the client.
    private func isClientSide(write: Bool) -> Bool { write == (role == .client) }

    private func key(write: Bool) -> [UInt8] {
        let start = isClientSide(write: write) ? 0 : keyLength
        return Array(keyBlock[start..<(start + keyLength)])
    }

    private func ivRange(write: Bool) -> Range<Int> {
        let start = 2 * keyLength + (isClientSide(write: write) ? 0 : ivLength)
        return start..<(start + ivLength)
    }

    /// GCM: salt ‖ epoch+sequence (RFC 5288 §3 with OpenSSL's choice of explicit nonce);
    /// ChaCha20-Poly1305: IV XOR the padded epoch+sequence (RFC 7905 §2).
    private func nonce(write: Bool, epochAndSequence: UInt64) -> [UInt8] {
        let iv = Array(keyBlock[ivRange(write: write)])
        var nonce = [UInt8](repeating: 0, count: 12)
        if ivLength == 4 {
            for i in 0..<4 { nonce[i] = iv[i] }
            for i in 0..<8 { nonce[4 + i] = UInt8(truncatingIfNeeded: epochAndSequence >> (56 - 8 * i)) }
        } else {
            for i in 0..<12 { nonce[i] = iv[i] }
            for i in 0..<8 { nonce[4 + i] ^= UInt8(truncatingIfNeeded: epochAndSequence >> (56 - 8 * i)) }
        }
        return nonce
    }

    /// seq_num ‖ type ‖ version ‖ plaintext length (RFC 5246 §6.2.3.3, epoch in seq_num for DTLS).
    private func additionalData(epochAndSequence: UInt64, type: UInt8, length: Int) -> [UInt8] {
        var aad = [UInt8](repeating: 0, count: 13)
        for i in 0..<8 { aad[i] = UInt8(truncatingIfNeeded: epochAndSequence >> (56 - 8 * i)) }
        aad[8] = type
        aad[9] = 0xFE
        aad[10] = 0xFD
        aad[11] = UInt8(length >> 8)
        aad[12] = UInt8(truncatingIfNeeded: length)
        return aad
    }
}
