/// A structural check of a received DTLS datagram before OpenSSL sees it (RFC 6347 §4.1):
/// every record has a known content type, a DTLS version (0xFExx) and a length that fits.
/// Garbage is counted and dropped here, so OpenSSL only parses well-framed records.
enum DTLSRecordScanner {
    static let headerLength = 13

    /// What the scan found in one datagram.
    struct Summary: Equatable {
        var records = 0
        var applicationDataRecords = 0
    }

    /// The datagram's records, or nil if it is not a well-framed DTLS datagram or has a
    /// record in an encrypted epoch (epoch > 0) shorter than `minimumEncryptedRecord`.
    static func scan(_ datagram: UnsafeRawBufferPointer, minimumEncryptedRecord: Int = 0) -> Summary? {
        var summary = Summary()
        var offset = 0
        let count = datagram.count
        guard count >= headerLength else { return nil }
        while offset < count {
            guard count - offset >= headerLength else { return nil }
            let type = datagram[offset]
            // 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data.
            guard (20...23).contains(type), datagram[offset + 1] == 0xFE else { return nil }
            let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
            guard length <= count - offset - headerLength else { return nil }
            let epoch = Int(datagram[offset + 3]) << 8 | Int(datagram[offset + 4])
            if epoch != 0, length < minimumEncryptedRecord { return nil }
            summary.records += 1
            if type == 23 { summary.applicationDataRecords += 1 }
            offset += headerLength + length
        }
        return summary
    }
}
