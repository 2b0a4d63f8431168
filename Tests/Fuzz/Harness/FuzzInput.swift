/// A cursor over one fuzz input: the structured targets read their choices (op codes,
/// lengths, flags) and payloads from it. Reading past the end yields zeros and empty
/// slices, so every input, however short, is a valid program.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }
    var remaining: Int { max(bytes.count - offset, 0) }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }

    /// The next `count` bytes, or fewer at the end.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let n = min(count, remaining)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    /// A slice whose length is the next byte (0–255).
    mutating func chunk() -> UnsafeRawBufferPointer { take(Int(byte())) }

    /// A slice whose length is the next two bytes (0–65 535, capped by what is left).
    mutating func longChunk() -> UnsafeRawBufferPointer { take(Int(u16())) }

    /// Everything that is left.
    mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// An invariant of the code under test; a violation aborts, so libFuzzer saves the input.
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant violated: \(message())") }
}
