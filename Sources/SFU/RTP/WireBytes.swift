/// Big-endian reads and writes at byte offsets, shared by the packet views (STUN, RTP, RTCP).
/// Callers validate bounds once before reading; these never allocate.
enum WireBytes {
    @inline(__always)
    static func u8(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt8 { b[o] }

    @inline(__always)
    static func u16(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt16 {
        UInt16(b[o]) << 8 | UInt16(b[o + 1])
    }

    @inline(__always)
    static func u24(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(b[o]) << 16 | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2])
    }

    @inline(__always)
    static func u32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }

    @inline(__always)
    static func u64(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt64 {
        UInt64(u32(b, o)) << 32 | UInt64(u32(b, o + 4))
    }

    @inline(__always)
    static func put16(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt16) {
        b[o] = UInt8(truncatingIfNeeded: v >> 8)
        b[o + 1] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    static func put24(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt32) {
        b[o] = UInt8(truncatingIfNeeded: v >> 16)
        b[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
        b[o + 2] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    static func put32(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt32) {
        b[o] = UInt8(truncatingIfNeeded: v >> 24)
        b[o + 1] = UInt8(truncatingIfNeeded: v >> 16)
        b[o + 2] = UInt8(truncatingIfNeeded: v >> 8)
        b[o + 3] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    static func put64(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt64) {
        put32(b, o, UInt32(truncatingIfNeeded: v >> 32))
        put32(b, o + 4, UInt32(truncatingIfNeeded: v))
    }
}
