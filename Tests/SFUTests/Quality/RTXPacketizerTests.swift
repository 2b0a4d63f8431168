import Reactor
import Testing

@testable import SFU

@Suite("RTX (RFC 4588) wrapping")
struct RTXPacketizerTests {
    @Test("wrap puts the OSN first in the payload under the RTX SSRC, sequence and PT; unwrap restores the original")
    func roundTrip() throws {
        let original = qualityRTP(
            seq: 4242, ts: 777, ssrc: 0x1111_2222, pt: 96, payload: [9, 8, 7, 6, 5], marker: true)
        var out = [UInt8](repeating: 0, count: 1500)
        let n = try original.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes {
                try RTXPacketizer.wrap(src, into: $0, ssrc: 0x3333_4444, sequenceNumber: 17, payloadType: 97)
            }
        }
        #expect(n == original.count + 2)
        let rtx = Array(out[0..<n])
        let header = original.count - 5
        #expect(rtx[1] == 0x80 | 97)  // marker kept
        #expect(Array(rtx[2..<4]) == [0, 17])
        #expect(Array(rtx[4..<8]) == Array(original[4..<8]))
        #expect(Array(rtx[8..<12]) == [0x33, 0x33, 0x44, 0x44])
        #expect(Array(rtx[12..<header]) == Array(original[12..<header]))  // extension kept
        #expect(Array(rtx[header..<(header + 2)]) == [0x10, 0x92])  // 4242
        #expect(Array(rtx[(header + 2)...]) == [9, 8, 7, 6, 5])

        var back = rtx
        let m = try back.withUnsafeMutableBytes { raw in
            let view = try RTPPacket(parsing: raw)
            return try RTXPacketizer.unwrap(view, ssrc: 0x1111_2222, payloadType: 96)
        }
        #expect(Array(back[0..<m]) == original)
    }

    @Test("padding is dropped when wrapping and when unwrapping")
    func padding() throws {
        let padded = qualityRTP(seq: 1, payload: [1, 2, 3], padding: 4)
        var out = [UInt8](repeating: 0, count: 1500)
        let n = try padded.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes {
                try RTXPacketizer.wrap(src, into: $0, ssrc: 5, sequenceNumber: 0, payloadType: 97)
            }
        }
        #expect(n == padded.count - 4 + 2)
        #expect(out[0] & 0x20 == 0)
        // A publisher's RTX with padding unwraps to the bare original.
        var rtx = qualityRTP(seq: 50, ssrc: 9, pt: 97, payload: [0, 1, 0xAA, 0xBB], padding: 8)
        let m = try rtx.withUnsafeMutableBytes { raw in
            try RTXPacketizer.unwrap(try RTPPacket(parsing: raw), ssrc: 7, payloadType: 96)
        }
        #expect(Array(rtx[0..<m]) == qualityRTP(seq: 1, ssrc: 7, pt: 96, payload: [0xAA, 0xBB]))
    }

    @Test("a padding-only probe has no OSN and is refused; a small buffer is refused")
    func refusals() throws {
        var probe = qualityRTP(seq: 50, ssrc: 9, pt: 97, payload: [], padding: 200)
        #expect(throws: RTXPacketizer.UnwrapError.noOriginalSequenceNumber) {
            try probe.withUnsafeMutableBytes { raw in
                _ = try RTXPacketizer.unwrap(try RTPPacket(parsing: raw), ssrc: 7, payloadType: 96)
            }
        }
        let original = qualityRTP(seq: 1)
        var small = [UInt8](repeating: 0, count: original.count + 1)
        #expect(throws: RTPError.bufferTooSmall(needed: original.count + 2, capacity: original.count + 1)) {
            try original.withUnsafeBytes { src in
                try small.withUnsafeMutableBytes {
                    _ = try RTXPacketizer.wrap(src, into: $0, ssrc: 5, sequenceNumber: 0, payloadType: 97)
                }
            }
        }
        let garbage: [UInt8] = [0x10, 1, 2]
        #expect(throws: RTPError.self) {
            try garbage.withUnsafeBytes { src in
                try small.withUnsafeMutableBytes {
                    _ = try RTXPacketizer.wrap(src, into: $0, ssrc: 5, sequenceNumber: 0, payloadType: 97)
                }
            }
        }
    }

    @Test("random bytes never crash wrapping or unwrapping")
    func garbage() {
        var rng = SplitMixRandom(seed: 77)
        var out = [UInt8](repeating: 0, count: 1500)
        for _ in 0..<2000 {
            var bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !bytes.isEmpty, rng.next() % 2 == 0 { bytes[0] = 0x80 | (bytes[0] & 0x3F) }  // often version 2
            bytes.withUnsafeBytes { src in
                out.withUnsafeMutableBytes {
                    _ = try? RTXPacketizer.wrap(src, into: $0, ssrc: 1, sequenceNumber: 2, payloadType: 97)
                }
            }
            let count = bytes.count
            bytes.withUnsafeMutableBytes { raw in
                if let view = try? RTPPacket(parsing: raw),
                    let n = try? RTXPacketizer.unwrap(view, ssrc: 3, payloadType: 96)
                {
                    #expect(n <= count)
                }
            }
        }
    }
}
