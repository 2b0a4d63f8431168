/// IVF container (libvpx's `ivfenc`, read by ffmpeg and every VP8/VP9/AV1 tool) as a sans-IO
/// byte producer: it returns bytes to append to the file, and `finalHeader` to write over the
/// first 32 bytes when the recording is closed. A file cut short by a crash decodes up to its
/// last whole frame (readers do not need the frame count; ffmpeg does report the cut frame as
/// invalid, so `IVFRecovery` truncates the file to its last whole frame at the next start).
public struct IVFWriter: Sendable {
    /// The four-character code of each codec IVF carries.
    public enum Codec: Sendable {
        case vp8, vp9, av1

        var fourCC: (UInt8, UInt8, UInt8, UInt8) {
            switch self {
            case .vp8: (0x56, 0x50, 0x38, 0x30)  // VP80
            case .vp9: (0x56, 0x50, 0x39, 0x30)  // VP90
            case .av1: (0x41, 0x56, 0x30, 0x31)  // AV01
            }
        }
    }

    public static let headerLength = 32
    public static let frameHeaderLength = 12
    /// The RTP video clock: timestamps go into the file unchanged (relative to the first).
    public static let timebaseDenominator: UInt32 = 90_000

    public let codec: Codec
    /// From the first keyframe: the VP8 frame header, the VP9 uncompressed header, the AV1
    /// sequence header (its maximum frame size). 0 if it could not be read, which readers
    /// accept since decoders take the size from the bitstream.
    public private(set) var width: UInt16 = 0
    public private(set) var height: UInt16 = 0
    public private(set) var frameCount: UInt32 = 0
    /// Frames whose timestamp did not move forward; written one tick after the previous one,
    /// since IVF readers need increasing timestamps.
    public private(set) var timestampsAdjusted: UInt64 = 0
    private var unwrapper = RTPTimestampUnwrapper()
    private var lastPTS: Int64 = -1

    public init(codec: Codec) { self.codec = codec }

    /// Appends the file header (before the first frame) and one frame to `out`.
    public mutating func appendFrame(_ frame: UnsafeRawBufferPointer, rtpTimestamp: UInt32, into out: inout [UInt8]) {
        if frameCount == 0 && lastPTS < 0 {
            if let size = Self.size(codec: codec, keyframe: frame) {
                width = UInt16(clamping: size.width)
                height = UInt16(clamping: size.height)
            }
            appendHeader(into: &out)
        }
        var pts = unwrapper.unwrap(rtpTimestamp)
        if pts <= lastPTS {
            pts = lastPTS + 1
            timestampsAdjusted += 1
        }
        lastPTS = pts
        Self.put32(UInt32(truncatingIfNeeded: frame.count), into: &out)
        Self.put32(UInt32(truncatingIfNeeded: pts), into: &out)
        Self.put32(UInt32(truncatingIfNeeded: pts >> 32), into: &out)
        out.append(contentsOf: frame)
        frameCount &+= 1
    }

    /// The 32-byte header with the final frame count, to write at offset 0 when closing.
    public var finalHeader: [UInt8] {
        var h: [UInt8] = []
        h.reserveCapacity(Self.headerLength)
        appendHeader(into: &h)
        return h
    }

    private func appendHeader(into out: inout [UInt8]) {
        out.append(contentsOf: [0x44, 0x4B, 0x49, 0x46])  // DKIF
        Self.put16(0, into: &out)  // version
        Self.put16(UInt16(Self.headerLength), into: &out)
        let f = codec.fourCC
        out.append(contentsOf: [f.0, f.1, f.2, f.3])
        Self.put16(width, into: &out)
        Self.put16(height, into: &out)
        Self.put32(Self.timebaseDenominator, into: &out)  // time base: 1/90000 s
        Self.put32(1, into: &out)
        Self.put32(frameCount, into: &out)
        Self.put32(0, into: &out)  // unused
    }

    static func size(codec: Codec, keyframe: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        switch codec {
        case .vp8: VP8Depacketizer.keyframeSize(keyframe)
        case .vp9: VP9Depacketizer.keyframeSize(keyframe)
        case .av1: AV1SequenceHeader.find(inTemporalUnit: keyframe).map { ($0.maxFrameWidth, $0.maxFrameHeight) }
        }
    }

    static func put16(_ v: UInt16, into out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    static func put32(_ v: UInt32, into out: inout [UInt8]) {
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) }
    }
}
