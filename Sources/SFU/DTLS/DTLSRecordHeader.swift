/// The 13-byte header of one DTLS record (RFC 6347 §4.1), read in place, and the one walk
/// over the records of a datagram that the scanner and the transport share.
struct DTLSRecordHeader {
    static let length = 13

    /// Where the record (its header) starts in the datagram.
    let offset: Int
    /// 20 change_cipher_spec, 21 alert, 22 handshake, 23 application_data.
    let contentType: UInt8
    /// The version's first byte: 0xFE for every DTLS version.
    let versionMajor: UInt8
    let epoch: UInt16
    /// The 48-bit record sequence number.
    let sequenceNumber: UInt64
    /// The length of the record's body (after the header).
    let bodyLength: Int

    /// Where the next record starts.
    var end: Int { offset + Self.length + bodyLength }

    /// The records of `datagram`, in order, while each has a whole header and a body that fits.
    static func records(in datagram: UnsafeRawBufferPointer) -> Records { Records(datagram: datagram) }

    /// Walks a datagram record by record. Stops at a trailing fragment too short for a header
    /// or at a record whose body runs past the end; `isComplete` then tells the two apart
    /// from a datagram that ended exactly after its last record.
    struct Records: Sequence, IteratorProtocol {
        let datagram: UnsafeRawBufferPointer
        /// Where the next record starts.
        private(set) var offset = 0

        init(datagram: UnsafeRawBufferPointer) { self.datagram = datagram }

        /// Whether the walk consumed the whole datagram (every byte belongs to a record).
        var isComplete: Bool { offset == datagram.count }

        mutating func next() -> DTLSRecordHeader? {
            let d = datagram
            let o = offset
            guard d.count - o >= DTLSRecordHeader.length else { return nil }
            let bodyLength = Int(d[o + 11]) << 8 | Int(d[o + 12])
            guard bodyLength <= d.count - o - DTLSRecordHeader.length else { return nil }
            var sequence: UInt64 = 0
            for i in 5..<11 { sequence = sequence << 8 | UInt64(d[o + i]) }
            let header = DTLSRecordHeader(
                offset: o, contentType: d[o], versionMajor: d[o + 1], epoch: UInt16(d[o + 3]) << 8 | UInt16(d[o + 4]),
                sequenceNumber: sequence, bodyLength: bodyLength)
            offset = header.end
            return header
        }
    }
}
