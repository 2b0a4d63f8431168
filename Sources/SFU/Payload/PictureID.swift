/// The PictureID field that VP8 (RFC 7741 §4.2) and VP9 (RFC 9628 §4.2) payload descriptors
/// share: 7 bits, or 15 bits when the first byte's M bit is set.
enum PictureID {
    /// Reads the PictureID at `offset` and moves past it; nil when it runs past `p`.
    static func read(_ p: UnsafeRawBufferPointer, at offset: inout Int) -> UInt16? {
        guard p.count > offset else { return nil }
        if p[offset] & 0x80 != 0 {
            guard p.count > offset + 1 else { return nil }
            defer { offset += 2 }
            return UInt16(p[offset] & 0x7F) << 8 | UInt16(p[offset + 1])
        }
        defer { offset += 1 }
        return UInt16(p[offset])
    }
}
