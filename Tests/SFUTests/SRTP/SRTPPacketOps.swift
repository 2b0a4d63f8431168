@testable import SFU

/// What a test does to a packet with an `SRTPSession`; copies in and out of a roomy buffer.
enum SRTPOp {
    case protectRTP, unprotectRTP, protectRTCP, unprotectRTCP
}

/// Runs `op` over `bytes` in a buffer with `spare` bytes of room and returns the result bytes.
func srtpApply(
    _ op: SRTPOp, _ session: borrowing SRTPSession, _ bytes: [UInt8], spare: Int = 64
) -> Result<[UInt8], SRTPError> {
    var buffer = bytes + [UInt8](repeating: 0, count: spare)
    let result = buffer.withUnsafeMutableBytes { raw -> Result<Int, SRTPError> in
        do throws(SRTPError) {
            switch op {
            case .protectRTP: return .success(try session.protectRTP(raw, length: bytes.count))
            case .unprotectRTP: return .success(try session.unprotectRTP(raw, length: bytes.count))
            case .protectRTCP: return .success(try session.protectRTCP(raw, length: bytes.count))
            case .unprotectRTCP: return .success(try session.unprotectRTCP(raw, length: bytes.count))
            }
        } catch {
            return .failure(error)
        }
    }
    return result.map { Array(buffer[0..<$0]) }
}

/// Bytes from a hex string with optional spaces ("80 0f 12").
func srtpHex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var high: UInt8? = nil
    for c in text.utf8 {
        let v: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
        default: continue
        }
        if let h = high {
            out.append(h << 4 | v)
            high = nil
        } else {
            high = v
        }
    }
    return out
}

/// A minimal RTP packet: version 2, the given sequence number and SSRC, `payload` bytes.
func srtpTestRTP(seq: UInt16, ssrc: UInt32 = 0xcafe_babe, payloadLength: Int = 160, fill: UInt8 = 0xab) -> [UInt8] {
    var p: [UInt8] = [0x80, 0x60, UInt8(seq >> 8), UInt8(seq & 0xff), 0, 0, 0x10, 0x00]
    p += [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xff), UInt8((ssrc >> 8) & 0xff), UInt8(ssrc & 0xff)]
    p += [UInt8](repeating: fill, count: payloadLength)
    return p
}

/// A minimal RTCP receiver report with no report blocks, from `ssrc`.
func srtpTestRTCP(ssrc: UInt32 = 0xcafe_babe) -> [UInt8] {
    [
        0x80, 0xc9, 0x00, 0x01, UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xff), UInt8((ssrc >> 8) & 0xff),
        UInt8(ssrc & 0xff),
    ]
}

/// Deterministic random bytes for seeded loops.
extension SplitMixRandom {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
