/// Writes an RTP packet into a caller's buffer: header, optional RFC 8285 extension
/// elements, then payload and padding in `finish`. Allocates nothing; an element that does
/// not fit makes `finish` throw.
public struct RTPPacketBuilder {
    private let buffer: UnsafeMutableRawBufferPointer
    private let form: RTPHeaderExtensionForm?
    private var offset: Int
    private var extensionHeader: Int
    private var error: RTPError?

    /// Starts a packet. `extensionForm` nil writes no extension block.
    public init(
        into buffer: UnsafeMutableRawBufferPointer, payloadType: UInt8, marker: Bool = false,
        sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, csrcs: some Collection<UInt32> = [UInt32](),
        extensionForm: RTPHeaderExtensionForm? = nil
    ) {
        self.buffer = buffer
        form = extensionForm
        let cc = min(csrcs.count, 15)
        let fixed = 12 + 4 * cc + (extensionForm == nil ? 0 : 4)
        offset = fixed
        extensionHeader = 12 + 4 * cc
        guard buffer.count >= fixed else {
            error = .bufferTooSmall(needed: fixed, capacity: buffer.count)
            return
        }
        buffer[0] = 0x80 | (extensionForm == nil ? 0 : 0x10) | UInt8(cc)
        buffer[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        WireBytes.put16(buffer, 2, sequenceNumber)
        WireBytes.put32(buffer, 4, timestamp)
        WireBytes.put32(buffer, 8, ssrc)
        var i = 12
        for c in csrcs.prefix(cc) {
            WireBytes.put32(buffer, i, c)
            i += 4
        }
        if let extensionForm {
            WireBytes.put16(buffer, extensionHeader, extensionForm.profile)
            WireBytes.put16(buffer, extensionHeader + 2, 0)
        }
    }

    /// Appends an extension element (one-byte form: id 1-14, 1-16 bytes; two-byte form:
    /// id 1-255, 0-255 bytes).
    public mutating func addExtension(id: UInt8, data: UnsafeRawBufferPointer) {
        guard error == nil, let form else { return }
        let valid: Bool
        switch form {
        case .oneByte: valid = (1...14).contains(id) && (1...16).contains(data.count)
        case .twoByte: valid = id != 0 && data.count <= 255
        }
        guard valid else {
            error = .badExtensionElement(id: id, length: data.count)
            return
        }
        let hdr = form == .oneByte ? 1 : 2
        guard offset + hdr + data.count <= buffer.count else {
            error = .bufferTooSmall(needed: offset + hdr + data.count, capacity: buffer.count)
            return
        }
        if form == .oneByte {
            buffer[offset] = id << 4 | UInt8(data.count - 1)
        } else {
            buffer[offset] = id
            buffer[offset + 1] = UInt8(data.count)
        }
        for (i, b) in data.enumerated() { buffer[offset + hdr + i] = b }
        offset += hdr + data.count
    }

    /// Appends an extension element from a byte array (tests and the load generator).
    public mutating func addExtension(id: UInt8, bytes: [UInt8]) {
        bytes.withUnsafeBytes { addExtension(id: id, data: $0) }
    }

    /// Ends the extension block (zero-padded to 32 bits), writes `payload` and `padding`
    /// bytes of RTP padding (0 or 1...255, the last byte being the count), and returns the
    /// packet length.
    public mutating func finish(payload: UnsafeRawBufferPointer, padding: Int = 0) throws(RTPError) -> Int {
        if let error { throw error }
        guard (0...255).contains(padding) else { throw .badPadding(padding: padding, payload: payload.count) }
        if form != nil {
            let dataStart = extensionHeader + 4
            let padded = dataStart + ((offset - dataStart + 3) & ~3)
            guard padded <= buffer.count else { throw .bufferTooSmall(needed: padded, capacity: buffer.count) }
            for i in offset..<padded { buffer[i] = 0 }
            WireBytes.put16(buffer, extensionHeader + 2, UInt16((padded - dataStart) / 4))
            offset = padded
        }
        let total = offset + payload.count + padding
        guard total <= buffer.count else { throw .bufferTooSmall(needed: total, capacity: buffer.count) }
        if let base = payload.baseAddress, payload.count > 0 {
            (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: payload.count)
        }
        if padding > 0 {
            for i in (offset + payload.count)..<(total - 1) { buffer[i] = 0 }
            buffer[total - 1] = UInt8(padding)
            buffer[0] |= 0x20
        }
        return total
    }
}
