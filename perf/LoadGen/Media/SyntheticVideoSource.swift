/// A VP8-like video stream shaped like a real encoder's: one frame every 1/fps seconds,
/// a keyframe every `keyframeInterval` (and on request), keyframes `keyframeRatio` times a
/// delta frame, the frame split into equal RTP packets of at most `maxPacketSize` bytes with
/// the marker on the last. The payloads carry a real VP8 payload descriptor (RFC 7741) and
/// VP8 frame header (RFC 6386 §9.1), so a server's keyframe detection works, then a
/// `MediaStamp`, then filler.
public final class SyntheticVideoSource {
    public struct Config: Sendable {
        public var bitrate: Int
        public var fps: Int
        /// Seconds between periodic keyframes (0: only the first frame and requests).
        public var keyframeInterval: Double
        public var keyframeRatio: Int
        public var maxPacketSize: Int
        public init(bitrate: Int = 2_000_000, fps: Int = 30, keyframeInterval: Double = 2, keyframeRatio: Int = 8,
                    maxPacketSize: Int = 1200) {
            self.bitrate = bitrate
            self.fps = fps
            self.keyframeInterval = keyframeInterval
            self.keyframeRatio = keyframeRatio
            self.maxPacketSize = maxPacketSize
        }

        /// Bytes of a delta frame such that the average over a keyframe period is `bitrate`.
        public var deltaFrameBytes: Int {
            let gop = keyframeInterval > 0 ? max(1, Int((keyframeInterval * Double(fps)).rounded())) : Int.max / 4
            let units = gop == Int.max / 4 ? 1.0 : Double(gop - 1 + keyframeRatio) / Double(gop)
            let perFrame = Double(bitrate) / 8 / Double(max(fps, 1))
            return max(64, Int(perFrame / units))
        }
        public var keyFrameBytes: Int { deltaFrameBytes * keyframeRatio }
        /// Frames between periodic keyframes (0: none).
        public var framesPerKeyframe: Int {
            keyframeInterval > 0 ? max(1, Int((keyframeInterval * Double(fps)).rounded())) : 0
        }
    }

    /// What one frame will be sent as.
    public struct Frame: Sendable, Equatable {
        public var isKeyframe: Bool
        public var bytes: Int
        public var packetCount: Int
        public var packetPayload: Int
        public var timestamp: UInt32
    }

    public let config: Config
    public let ssrc: UInt32
    public var payloadType: UInt8
    public var midExtensionID: UInt8
    public let mid: UInt8
    public private(set) var sequence: UInt16
    public private(set) var frameIndex = 0
    public private(set) var packetCounter: UInt32 = 0
    public private(set) var keyframesSent = 0
    private var keyframeRequested = true
    private let timestampBase: UInt32
    private var rng: UInt64
    public private(set) var current = Frame(isKeyframe: false, bytes: 0, packetCount: 0, packetPayload: 0, timestamp: 0)

    public init(config: Config, ssrc: UInt32, payloadType: UInt8, midExtensionID: UInt8 = 0, mid: UInt8 = 0x30,
                seed: UInt64 = 1) {
        self.config = config
        self.ssrc = ssrc
        self.payloadType = payloadType
        self.midExtensionID = midExtensionID
        self.mid = mid
        rng = seed | 1
        sequence = UInt16(truncatingIfNeeded: seed &* 2_654_435_761)
        timestampBase = UInt32(truncatingIfNeeded: seed &* 40_503)
    }

    /// Nanoseconds between frames.
    public var frameIntervalNanos: UInt64 { 1_000_000_000 / UInt64(max(config.fps, 1)) }

    /// RTP header bytes of every packet.
    public var headerLength: Int { midExtensionID != 0 ? 20 : 12 }

    /// The next frame will be a keyframe (a PLI or FIR arrived).
    public func requestKeyframe() { keyframeRequested = true }

    /// Plans the next frame; then write its `packetCount` packets with `writePacket`.
    @discardableResult
    public func beginFrame() -> Frame {
        let periodic = config.framesPerKeyframe > 0 && frameIndex % config.framesPerKeyframe == 0
        let key = keyframeRequested || periodic
        keyframeRequested = false
        if key { keyframesSent += 1 }
        // ±12% size variation, like an encoder's rate control.
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let jitter = Double(Int(rng >> 33) % 25 - 12) / 100
        let base = key ? config.keyFrameBytes : config.deltaFrameBytes
        let bytes = max(64, Int(Double(base) * (1 + jitter)))
        let capacity = config.maxPacketSize - headerLength
        let count = max(1, (bytes + capacity - 1) / capacity)
        let per = max(1 + MediaStamp.videoOffset - 1 + MediaStamp.size, (bytes + count - 1) / count)
        let ts = timestampBase &+ UInt32(truncatingIfNeeded: frameIndex &* 90_000 / max(config.fps, 1))
        current = Frame(isKeyframe: key, bytes: bytes, packetCount: count, packetPayload: per, timestamp: ts)
        frameIndex += 1
        return current
    }

    /// Writes packet `index` of the current frame (RTP header + payload); returns its length
    /// or 0 if `buffer` is too small.
    public func writePacket(_ index: Int, sendNanos: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let f = current
        let last = index == f.packetCount - 1
        var payload = f.packetPayload
        if last { payload = max(MediaStamp.videoOffset + MediaStamp.size, f.bytes - f.packetPayload * (f.packetCount - 1)) }
        let h = RTPWriter.writeHeader(into: buffer, payloadType: payloadType, marker: last, sequence: sequence,
                                      timestamp: f.timestamp, ssrc: ssrc, midExtensionID: midExtensionID, mid: mid)
        guard h > 0, buffer.count >= h + payload else { return 0 }
        let p = UnsafeMutableRawBufferPointer(rebasing: buffer[h..<(h + payload)])
        // Filler first, so the headers below overwrite it.
        p.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: sequence) | 1)
        if index == 0 {
            p[0] = 0x10  // VP8 descriptor: S=1, partition 0
            let size = min(f.bytes / 4, (1 << 19) - 1)
            p[1] = UInt8((f.isKeyframe ? 0 : 1) | (1 << 4) | ((size & 0x7) << 5))
            p[2] = UInt8(truncatingIfNeeded: size >> 3)
            p[3] = UInt8(truncatingIfNeeded: size >> 11)
            if f.isKeyframe {
                p[4] = 0x9D
                p[5] = 0x01
                p[6] = 0x2A
                p[7] = 0x00  // 1280 little-endian, scale 0
                p[8] = 0x05
                p[9] = 0xD0  // 720
                p[10] = 0x02
            }
        } else {
            p[0] = 0x00  // continuation: S=0
        }
        MediaStamp(sendNanos: sendNanos, counter: packetCounter).write(into: p, at: MediaStamp.videoOffset)
        packetCounter &+= 1
        sequence &+= 1
        return h + payload
    }

    /// Whether a VP8 payload (descriptor + header) starts a keyframe: the check a server makes.
    public static func isKeyframeStart(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 2 else { return false }
        var off = 1
        let d = payload[0]
        guard d & 0x10 != 0, d & 0x07 == 0 else { return false }
        if d & 0x80 != 0 {
            guard payload.count > off else { return false }
            let x = payload[off]
            off += 1
            if x & 0x80 != 0 {  // PictureID
                guard payload.count > off else { return false }
                off += payload[off] & 0x80 != 0 ? 2 : 1
            }
            if x & 0x40 != 0 { off += 1 }
            if x & 0x30 != 0 { off += 1 }
        }
        guard payload.count > off else { return false }
        return payload[off] & 0x01 == 0
    }
}
