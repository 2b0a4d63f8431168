/// A structural check of a received DTLS datagram before OpenSSL sees it (RFC 6347 §4.1):
/// every record has a known content type, a DTLS version (0xFExx) and a length that fits.
/// Garbage is counted and dropped here, so OpenSSL only parses well-framed records.
enum DTLSRecordScanner {
    /// What the scan found in one datagram.
    struct Summary: Equatable {
        var records = 0
        var applicationDataRecords = 0
    }

    /// The datagram's records, or nil if it is not a well-framed DTLS datagram or has a
    /// record in an encrypted epoch (epoch > 0) shorter than `minimumEncryptedRecord`.
    static func scan(_ datagram: UnsafeRawBufferPointer, minimumEncryptedRecord: Int = 0) -> Summary? {
        guard datagram.count >= DTLSRecordHeader.length else { return nil }
        var summary = Summary()
        var records = DTLSRecordHeader.records(in: datagram)
        while let record = records.next() {
            // 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data.
            guard (20...23).contains(record.contentType), record.versionMajor == 0xFE else { return nil }
            if record.epoch != 0, record.bodyLength < minimumEncryptedRecord { return nil }
            summary.records += 1
            if record.contentType == 23 { summary.applicationDataRecords += 1 }
        }
        // A trailing fragment, or a record longer than what is left, is not DTLS.
        return records.isComplete ? summary : nil
    }
}
