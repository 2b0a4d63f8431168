/// An RTP packet (RFC 3550 §5.1): a view over the caller's mutable buffer, validated once,
/// with in-place rewriting of the header fields an SFU changes per viewer.
///
/// Nothing is copied or allocated. The setters write straight into the buffer, so they are
/// `nonmutating`: the view is only valid while the buffer is. Header extensions follow
/// RFC 8285 (one-byte 0xBEDE and two-byte 0x100X forms); other profiles are kept opaque.
public struct RTPPacket {
    /// The whole packet.
    public let buffer: UnsafeMutableRawBufferPointer
    /// Fixed header, CSRCs and header extension.
    public let headerLength: Int
    /// Trailing padding bytes (including the count byte), 0 without the P bit.
    public let paddingLength: Int
    /// Offset of the 4-byte extension header, nil without the X bit.
    public let extensionHeaderOffset: Int?

    public init(parsing buffer: UnsafeMutableRawBufferPointer) throws(RTPError) {
        let n = buffer.count
        guard n >= 12 else { throw .truncated(count: n) }
        let b0 = buffer[0]
        guard b0 >> 6 == 2 else { throw .badVersion(b0 >> 6) }
        let cc = Int(b0 & 0x0F)
        var h = 12 + 4 * cc
        guard h <= n else { throw .csrcOverrun(csrcCount: cc, count: n) }
        if b0 & 0x10 != 0 {
            guard h + 4 <= n else { throw .extensionOverrun(words: 0, count: n) }
            let words = Int(WireBytes.u16(UnsafeRawBufferPointer(buffer), h + 2))
            guard h + 4 + 4 * words <= n else { throw .extensionOverrun(words: words, count: n) }
            extensionHeaderOffset = h
            h += 4 + 4 * words
        } else {
            extensionHeaderOffset = nil
        }
        if b0 & 0x20 != 0 {
            let pad = Int(buffer[n - 1])
            guard pad >= 1, pad <= n - h else { throw .badPadding(padding: pad, payload: n - h) }
            paddingLength = pad
        } else {
            paddingLength = 0
        }
        self.buffer = buffer
        headerLength = h
    }

    private var raw: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer) }

    /// Payload type (7 bits).
    public var payloadType: UInt8 {
        get { buffer[1] & 0x7F }
        nonmutating set { buffer[1] = (buffer[1] & 0x80) | (newValue & 0x7F) }
    }

    /// Marker bit (end of a video frame).
    public var marker: Bool {
        get { buffer[1] & 0x80 != 0 }
        nonmutating set { buffer[1] = (buffer[1] & 0x7F) | (newValue ? 0x80 : 0) }
    }

    public var sequenceNumber: UInt16 {
        get { WireBytes.u16(raw, 2) }
        nonmutating set { WireBytes.put16(buffer, 2, newValue) }
    }

    public var timestamp: UInt32 {
        get { WireBytes.u32(raw, 4) }
        nonmutating set { WireBytes.put32(buffer, 4, newValue) }
    }

    public var ssrc: UInt32 {
        get { WireBytes.u32(raw, 8) }
        nonmutating set { WireBytes.put32(buffer, 8, newValue) }
    }

    /// Number of CSRC entries.
    public var csrcCount: Int { Int(buffer[0] & 0x0F) }

    /// The i-th CSRC (i < csrcCount).
    public func csrc(at i: Int) -> UInt32 {
        precondition(i >= 0 && i < csrcCount)
        return WireBytes.u32(raw, 12 + 4 * i)
    }

    /// Whether the P bit is set.
    public var hasPadding: Bool { paddingLength > 0 }

    /// Where the payload is in `buffer` (padding excluded).
    public var payloadRange: Range<Int> { headerLength..<(buffer.count - paddingLength) }

    /// The payload bytes (padding excluded).
    public var payload: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer[payloadRange])
    }

    /// The extension profile (0xBEDE, 0x100X or another), nil without an extension.
    public var extensionProfile: UInt16? {
        extensionHeaderOffset.map { WireBytes.u16(raw, $0) }
    }

    /// The RFC 8285 form of the extension block, nil without one or for another profile.
    public var extensionForm: RTPHeaderExtensionForm? {
        extensionProfile.flatMap { RTPHeaderExtensionForm(profile: $0) }
    }

    /// Walks the RFC 8285 elements: `body(id, idOffset, dataOffset, dataLength)` returns false
    /// to stop. A malformed element (overrunning the block) ends the walk.
    @inline(__always)
    private func walkExtensions(_ body: (UInt8, Int, Int, Int) -> Bool) {
        guard let eh = extensionHeaderOffset, let form = extensionForm else { return }
        var o = eh + 4
        let end = headerLength
        switch form {
        case .oneByte:
            while o < end {
                let b = buffer[o]
                let id = b >> 4
                if id == 0 {  // padding byte
                    o += 1
                    continue
                }
                if id == 15 { return }  // reserved: stop processing (RFC 8285 §4.2)
                let len = Int(b & 0x0F) + 1
                guard o + 1 + len <= end else { return }
                if !body(id, o, o + 1, len) { return }
                o += 1 + len
            }
        case .twoByte:
            while o < end {
                let id = buffer[o]
                if id == 0 {
                    o += 1
                    continue
                }
                guard o + 2 <= end else { return }
                let len = Int(buffer[o + 1])
                guard o + 2 + len <= end else { return }
                if !body(id, o, o + 2, len) { return }
                o += 2 + len
            }
        }
    }

    /// Calls `body` with each extension element's id and data.
    public func forEachExtension(_ body: (UInt8, UnsafeMutableRawBufferPointer) -> Void) {
        walkExtensions { id, _, d, len in
            body(id, UnsafeMutableRawBufferPointer(rebasing: buffer[d..<(d + len)]))
            return true
        }
    }

    /// The data of the first extension element with `id`, nil if absent.
    public func extensionElement(id: UInt8) -> UnsafeMutableRawBufferPointer? {
        guard id != 0 else { return nil }
        var found: Range<Int>? = nil
        walkExtensions { eid, _, d, len in
            if eid == id {
                found = d..<(d + len)
                return false
            }
            return true
        }
        return found.map { UnsafeMutableRawBufferPointer(rebasing: buffer[$0]) }
    }

    /// Rewrites every element id in place through `map` (the ids one peer negotiated to the
    /// ids another did). An id the form cannot carry (0, or above 14 in the one-byte form)
    /// turns the element into padding: its bytes are zeroed, which RFC 8285 receivers skip,
    /// so mapping to 0 removes an extension the viewer did not negotiate.
    public func rewriteExtensionIDs(map: (UInt8) -> UInt8) {
        guard let form = extensionForm else { return }
        walkExtensions { id, h, d, len in
            let new = map(id)
            switch form {
            case .oneByte:
                if (1...14).contains(new) {
                    buffer[h] = new << 4 | (buffer[h] & 0x0F)
                } else {
                    for i in h..<(d + len) { buffer[i] = 0 }
                }
            case .twoByte:
                if new != 0 {
                    buffer[h] = new
                } else {
                    for i in h..<(d + len) { buffer[i] = 0 }
                }
            }
            return true
        }
    }

    /// abs-send-time (24-bit 6.18 fixed-point seconds), if the element with `id` is present.
    public func absSendTime(id: UInt8) -> UInt32? {
        guard let e = extensionElement(id: id), e.count == 3 else { return nil }
        return WireBytes.u24(UnsafeRawBufferPointer(e), 0)
    }

    /// Rewrites abs-send-time in place; false if the element is absent.
    @discardableResult
    public func setAbsSendTime(_ value: UInt32, id: UInt8) -> Bool {
        guard let e = extensionElement(id: id), e.count == 3 else { return false }
        WireBytes.put24(e, 0, value)
        return true
    }

    /// The transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01).
    public func transportSequenceNumber(id: UInt8) -> UInt16? {
        guard let e = extensionElement(id: id), e.count == 2 else { return nil }
        return WireBytes.u16(UnsafeRawBufferPointer(e), 0)
    }

    /// Rewrites the transport-wide sequence number in place; false if the element is absent.
    @discardableResult
    public func setTransportSequenceNumber(_ value: UInt16, id: UInt8) -> Bool {
        guard let e = extensionElement(id: id), e.count == 2 else { return false }
        WireBytes.put16(e, 0, value)
        return true
    }

    /// The MID (RFC 9143 §15.1) bytes, if present.
    public func mid(id: UInt8) -> UnsafeRawBufferPointer? {
        extensionElement(id: id).map { UnsafeRawBufferPointer($0) }
    }

    /// The MID as a string (allocates: for binding an SSRC to a track, not per packet).
    public func midString(id: UInt8) -> String? {
        mid(id: id).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension RTPPacket {
    /// The RTP header's length (CSRCs and header extension included), nil when `packet` is
    /// shorter than that.
    static func headerLength(of packet: UnsafeRawBufferPointer) -> Int? {
        guard packet.count >= 12 else { return nil }
        var header = 12 + 4 * Int(packet[0] & 0x0F)
        if packet[0] & 0x10 != 0 {
            guard packet.count >= header + 4 else { return nil }
            header += 4 + 4 * Int(WireBytes.u16(packet, header + 2))
        }
        return packet.count >= header ? header : nil
    }
}
