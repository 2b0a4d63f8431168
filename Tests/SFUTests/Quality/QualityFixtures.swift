import Reactor

@testable import SFU

/// A plaintext RTP packet with a one-byte extension (id 3, two bytes) and `payload`.
func qualityRTP(
    seq: UInt16, ts: UInt32 = 1000, ssrc: UInt32 = 0xAABB_CCDD, pt: UInt8 = 96, payload: [UInt8] = [1, 2, 3, 4],
    padding: Int = 0, marker: Bool = false
) -> [UInt8] {
    var buf = [UInt8](repeating: 0, count: 1500)
    let n = buf.withUnsafeMutableBytes { raw -> Int in
        var b = RTPPacketBuilder(
            into: raw, payloadType: pt, marker: marker, sequenceNumber: seq, timestamp: ts, ssrc: ssrc,
            extensionForm: .oneByte)
        b.addExtension(id: 3, bytes: [0x12, 0x34])
        return payload.withUnsafeBytes { (try? b.finish(payload: $0, padding: padding)) ?? 0 }
    }
    return Array(buf[0..<n])
}

let qualityT0 = Instant(nanoseconds: 5_000_000_000)
