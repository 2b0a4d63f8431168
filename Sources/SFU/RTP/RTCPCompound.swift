/// An RTCP compound packet (RFC 3550 §6.1): validated as a whole once, then iterated as
/// typed views without allocating.
///
/// Parse it from mutable bytes to use the SSRC setters of the views (the SFU rewrites
/// sender and media SSRCs before forwarding); views from read-only bytes trap on write.
/// Reduced-size RTCP (RFC 5506: a lone feedback packet) is accepted.
public struct RTCPCompound: Sequence {
    public let bytes: UnsafeRawBufferPointer
    private let writable: Bool
    /// Number of packets in the compound.
    public let packetCount: Int

    /// Parses read-only bytes.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(RTCPError) {
        try self.init(bytes: bytes, writable: false)
    }

    /// Parses bytes that the views may rewrite in place.
    public init(parsing bytes: UnsafeMutableRawBufferPointer) throws(RTCPError) {
        try self.init(bytes: UnsafeRawBufferPointer(bytes), writable: true)
    }

    private init(bytes: UnsafeRawBufferPointer, writable: Bool) throws(RTCPError) {
        guard !bytes.isEmpty else { throw .truncated(offset: 0, count: 0) }
        self.bytes = bytes
        self.writable = writable
        var o = 0
        var n = 0
        while o < bytes.count {
            let (h, next) = try Self.header(in: bytes, at: o, writable: writable)
            _ = try RTCPPacket(validating: h)
            o = next
            n += 1
        }
        packetCount = n
    }

    /// Reads the header at `o`; returns the packet view (padding stripped) and the next offset.
    private static func header(
        in b: UnsafeRawBufferPointer, at o: Int, writable: Bool
    ) throws(RTCPError) -> (RTCPHeader, Int) {
        guard o + 4 <= b.count else { throw .truncated(offset: o, count: b.count) }
        let v = b[o] >> 6
        guard v == 2 else { throw .badVersion(v) }
        let length = 4 * (Int(WireBytes.u16(b, o + 2)) + 1)
        guard o + length <= b.count else {
            throw .lengthOverrun(offset: o, declared: length, available: b.count - o)
        }
        var end = o + length
        if b[o] & 0x20 != 0 {
            let pad = Int(b[end - 1])
            guard pad >= 1, pad <= length - 4 else { throw .badPadding(offset: o) }
            end -= pad
        }
        return (RTCPHeader(bytes: UnsafeRawBufferPointer(rebasing: b[o..<end]), writable: writable), o + length)
    }

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        let writable: Bool
        var offset = 0

        public mutating func next() -> RTCPPacket? {
            guard offset < bytes.count,
                let (h, next) = try? RTCPCompound.header(in: bytes, at: offset, writable: writable)
            else { return nil }
            offset = next
            // Validated in init: a failure here cannot happen, but stay total.
            return (try? RTCPPacket(validating: h)) ?? .other(h)
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes, writable: writable) }
}
