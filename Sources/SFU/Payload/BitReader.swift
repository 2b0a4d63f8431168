/// MSB-first bit reader over a buffer; reads past the end return 0 and set `overrun`.
struct BitReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0
    var overrun = false

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func bits(_ n: Int) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<n {
            let byte = position >> 3
            guard byte < bytes.count else {
                overrun = true
                return 0
            }
            v = v << 1 | UInt32((bytes[byte] >> (7 - UInt8(position & 7))) & 1)
            position += 1
        }
        return v
    }
}
