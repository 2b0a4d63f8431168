/// An Opus-like audio stream: one 20 ms packet (≈100-byte payload) 50 times a second,
/// 48 kHz timestamps, a TOC byte then a `MediaStamp`, then filler.
public final class SyntheticAudioSource {
    public let ssrc: UInt32
    public var payloadType: UInt8
    public var midExtensionID: UInt8
    public let mid: UInt8
    public let payloadBytes: Int
    public private(set) var sequence: UInt16
    public private(set) var packetCounter: UInt32 = 0
    private var timestamp: UInt32

    /// Nanoseconds between packets.
    public static let packetIntervalNanos: UInt64 = 20_000_000

    public init(ssrc: UInt32, payloadType: UInt8, midExtensionID: UInt8 = 0, mid: UInt8 = 0x31,
                payloadBytes: Int = 100, seed: UInt64 = 2) {
        self.ssrc = ssrc
        self.payloadType = payloadType
        self.midExtensionID = midExtensionID
        self.mid = mid
        self.payloadBytes = max(payloadBytes, MediaStamp.audioOffset + MediaStamp.size)
        sequence = UInt16(truncatingIfNeeded: seed &* 2_654_435_761)
        timestamp = UInt32(truncatingIfNeeded: seed &* 7919)
    }

    /// Writes the next packet; returns its length or 0 if `buffer` is too small.
    public func writePacket(sendNanos: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let h = RTPWriter.writeHeader(into: buffer, payloadType: payloadType, marker: false, sequence: sequence,
                                      timestamp: timestamp, ssrc: ssrc, midExtensionID: midExtensionID, mid: mid)
        guard h > 0, buffer.count >= h + payloadBytes else { return 0 }
        let p = UnsafeMutableRawBufferPointer(rebasing: buffer[h..<(h + payloadBytes)])
        p.initializeMemory(as: UInt8.self, repeating: 0x55)
        p[0] = 0xF8  // TOC: CELT fullband 20 ms, mono, one frame
        MediaStamp(sendNanos: sendNanos, counter: packetCounter).write(into: p, at: MediaStamp.audioOffset)
        packetCounter &+= 1
        sequence &+= 1
        timestamp &+= 960
        return h + payloadBytes
    }
}
