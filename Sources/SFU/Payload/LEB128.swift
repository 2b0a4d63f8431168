/// AV1's unsigned LEB128 (AV1 spec §4.10.5): 7 bits per byte, least significant first, at
/// most 8 bytes, value at most 2^32 - 1.
enum LEB128 {
    /// The value at `offset` and its length in bytes; nil if cut off, too long or too large.
    static func read(_ b: UnsafeRawBufferPointer, at offset: Int) -> (value: Int, length: Int)? {
        var value: UInt64 = 0
        for i in 0..<8 {
            guard offset + i < b.count else { return nil }
            let byte = b[offset + i]
            value |= UInt64(byte & 0x7F) << (7 * UInt64(i))
            if byte & 0x80 == 0 {
                return value <= UInt64(UInt32.max) ? (Int(value), i + 1) : nil
            }
        }
        return nil
    }

    /// Appends `value` in the fewest bytes.
    static func write(_ value: Int, to out: inout [UInt8]) {
        var v = UInt64(value)
        repeat {
            let byte = UInt8(v & 0x7F)
            v >>= 7
            out.append(v == 0 ? byte : byte | 0x80)
        } while v != 0
    }
}
