@testable import SFU

/// `VP8TemporalInfo` and `TemporalFilter`: arbitrary packets (their temporal fields read in
/// place, never past them), arriving at arbitrary numbers (in order, late, repeated, far off),
/// with the cap changed in between. Invariants: a packet seen again at once gets the answer
/// it had; a sent packet's number maps back to it (`inputSequence`).
///
/// Input: steps of one flags byte (bits 0-1: a new target; bit 2: change the target; bits
/// 3-4: how the number moves: +1, +a byte, -a byte, a new u16), the byte or u16, and a packet
/// (a chunk), until the input ends.
enum TemporalTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        var cursor = FuzzInput(input)
        let filter = TemporalFilter(target: cursor.byte() & 3)
        var seq = cursor.u16()
        var last: (seq: UInt16, answer: TemporalFilter.Delta?)?
        var steps = 0
        while cursor.remaining > 0, steps < 512 {
            steps += 1
            let flags = cursor.byte()
            if flags & 4 != 0 { filter.setTarget(flags & 3) }
            switch flags >> 3 & 3 {
            case 0: seq &+= 1
            case 1: seq &+= UInt16(cursor.byte())
            case 2: seq &-= UInt16(cursor.byte())
            default: seq = cursor.u16()
            }
            // An exact-size copy: AddressSanitizer sees a read past it.
            let chunk = cursor.chunk()
            let packet = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk.count, alignment: 1)
            defer { packet.deallocate() }
            if chunk.count > 0 { packet.copyMemory(from: chunk) }
            let info = VP8TemporalInfo(packet: UnsafeRawBufferPointer(packet))
            check(info.temporalLayer <= 3, "a TID over 3")
            let answer = filter.admit(sequenceNumber: seq, info: info)
            if let last, last.seq == seq { check(answer == last.answer, "a repeat got another answer") }
            last = (seq, answer)
            if let d = answer, let back = filter.inputSequence(forOutput: seq &- d.sequence) {
                check(back == seq, "a sent packet's number maps back to another")
            }
        }
    }
}
