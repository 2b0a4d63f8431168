/// An SDES packet (PT 202, RFC 3550 §6.5) view: chunks of (SSRC, items).
public struct RTCPSourceDescription {
    public let header: RTCPHeader

    /// SDES item type of CNAME.
    public static let cname: UInt8 = 1

    init(validating h: RTCPHeader) throws(RTCPError) {
        header = h
        guard walk({ _, _, _ in }) else { throw .malformed(packetType: h.packetType, format: h.count) }
    }

    public var chunkCount: Int { Int(header.count) }

    /// Walks the chunks; false if the layout is broken.
    @discardableResult
    private func walk(_ body: (UInt32, UInt8, UnsafeRawBufferPointer) -> Void) -> Bool {
        let b = header.bytes
        var o = 4
        for _ in 0..<chunkCount {
            guard o + 4 <= b.count else { return false }
            let ssrc = WireBytes.u32(b, o)
            o += 4
            while true {
                guard o < b.count else { return false }
                let type = b[o]
                if type == 0 {
                    // End of items: skip the null octet and pad to the next 32-bit boundary.
                    o = (o + 4) & ~3
                    break
                }
                guard o + 2 <= b.count else { return false }
                let len = Int(b[o + 1])
                guard o + 2 + len <= b.count else { return false }
                body(ssrc, type, UnsafeRawBufferPointer(rebasing: b[(o + 2)..<(o + 2 + len)]))
                o += 2 + len
            }
        }
        return o <= b.count
    }

    /// Calls `body(ssrc, itemType, value)` for every item.
    public func forEachItem(_ body: (UInt32, UInt8, UnsafeRawBufferPointer) -> Void) {
        walk(body)
    }

    /// The CNAME of `ssrc` (allocates).
    public func cname(of ssrc: UInt32) -> String? {
        var found: String? = nil
        walk { s, t, v in
            if found == nil, s == ssrc, t == Self.cname { found = String(decoding: v, as: UTF8.self) }
        }
        return found
    }
}
