/// Where the transport-wide sequence number goes in a forwarded packet, and how it is put
/// into a packet that came without one (draft-holmer-rmcat-transport-wide-cc-extensions-01
/// §2: a 2-byte header-extension element). The publisher's number belongs to its own
/// transport, so every viewer copy is renumbered at the offset found here; a publisher that
/// does not send the extension (OBS, an edge relay) gets the element added once per packet,
/// before the fan-out, so the per-copy work stays one 2-byte store.
public enum TransportSequenceExtension {
    /// Bytes an inserted element adds to a packet: always one 32-bit word (an element in an
    /// existing block), or two (a new one-byte block: its header and the element).
    public static func growth(of packet: UnsafeRawBufferPointer) -> Int {
        packet.count > 0 && packet[0] & 0x10 != 0 ? 4 : 8
    }

    /// The offset of the 2-byte data of element `id` in `packet`, 0 when absent (or not
    /// 2 bytes long, or the packet does not parse).
    public static func dataOffset(in packet: UnsafeRawBufferPointer, id: UInt8) -> Int {
        guard id != 0,
            let view = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(mutating: packet)),
            let e = view.extensionElement(id: id), e.count == 2, let base = packet.baseAddress,
            let at = e.baseAddress
        else { return 0 }
        return UnsafeRawPointer(at) - base
    }

    /// Copies `packet` into `out` with a 2-byte element `id` (1…14) added at the end of the
    /// header extension (a one-byte block is added when the packet has none; a two-byte block
    /// takes a two-byte element). Returns the new length and the element data's offset, nil
    /// when the packet does not parse, uses another extension profile, or `out` is too small.
    public static func insert(
        into out: UnsafeMutableRawBufferPointer, from packet: UnsafeRawBufferPointer, id: UInt8
    ) -> (length: Int, dataOffset: Int)? {
        guard (1...14).contains(id),
            let view = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(mutating: packet)),
            let src = packet.baseAddress, let dst = out.baseAddress
        else { return nil }
        let n = packet.count
        let header = view.headerLength
        let grow = growth(of: packet)
        guard n + grow <= out.count else { return nil }
        dst.copyMemory(from: src, byteCount: header)
        let data: Int
        if let eh = view.extensionHeaderOffset {
            guard let form = view.extensionForm else { return nil }
            let words = Int(WireBytes.u16(packet, eh + 2)) + 1
            guard words <= 0xFFFF else { return nil }
            WireBytes.put16(out, eh + 2, UInt16(words))
            switch form {
            case .oneByte:
                out[header] = id << 4 | 1  // length field: bytes − 1
                data = header + 1
                out[header + 3] = 0  // padding
            case .twoByte:
                out[header] = id
                out[header + 1] = 2
                data = header + 2
            }
        } else {
            out[0] |= 0x10
            WireBytes.put16(out, header, 0xBEDE)
            WireBytes.put16(out, header + 2, 1)
            out[header + 4] = id << 4 | 1
            out[header + 7] = 0
            data = header + 5
        }
        out[data] = 0
        out[data + 1] = 0
        (dst + header + grow).copyMemory(from: src + header, byteCount: n - header)
        return (n + grow, data)
    }

    /// A one-byte id (1…14) not among `used`, for the element added to a publisher's packets;
    /// nil when every one is taken.
    public static func freeID(avoiding used: [SDPHeaderExtension]) -> UInt8? {
        (1...14).first { id in !used.contains { $0.id == id } }.map { UInt8($0) }
    }
}
