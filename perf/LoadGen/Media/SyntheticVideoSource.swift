/// A VP8-like video stream shaped like a real encoder's: one frame every 1/fps seconds,
/// a keyframe every `keyframeInterval` (and on request), keyframes `keyframeRatio` times a
/// delta frame, the frame split into equal RTP packets of at most `maxPacketSize` bytes with
/// the marker on the last. The payloads carry a real VP8 payload descriptor (RFC 7741) and
/// VP8 frame header (RFC 6386 §9.1), so a server's keyframe detection works, then a
/// `MediaStamp`, then filler.
///
/// A simulcast layer (`livesfu-load --simulcast`) is one of these per RID: its packets also
/// carry the RID header extension (RFC 8852) and, as a browser's VP8 encoder writes them, a
/// 15-bit picture ID in every payload descriptor (the stamp then sits 3 bytes further on,
/// `MediaStamp.videoOffsetWithPictureID`).
public final class SyntheticVideoSource {
    public struct Config: Sendable {
        public var bitrate: Int
        public var fps: Int
        /// Seconds between periodic keyframes (0: only the first frame and requests).
        public var keyframeInterval: Double
        public var keyframeRatio: Int
        public var maxPacketSize: Int
        /// The picture size a keyframe's header announces (a simulcast layer's is smaller).
        public var width = 1280
        public var height = 720
        public init(bitrate: Int = 2_000_000, fps: Int = 30, keyframeInterval: Double = 2, keyframeRatio: Int = 8,
                    maxPacketSize: Int = 1200) {
            self.bitrate = bitrate
            self.fps = fps
            self.keyframeInterval = keyframeInterval
            self.keyframeRatio = keyframeRatio
            self.maxPacketSize = maxPacketSize
        }

        /// Simulcast layer `index` of this stream: a quarter of the bitrate and half the
        /// width and height per step down (full, 1/4, 1/16, …), as a browser's
        /// `scaleResolutionDownBy` 1, 2, 4 gives.
        public func layer(_ index: Int) -> Config {
            var c = self
            c.bitrate = max(8_000, bitrate >> (2 * index))
            c.width = max(16, width >> index)
            c.height = max(16, height >> index)
            return c
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
    /// Simulcast: the RID extension's id (0: none) and the RID every packet carries.
    public var ridExtensionID: UInt8 = 0
    public let rid: [UInt8]
    /// Every payload descriptor carries a 15-bit picture ID, one more each frame.
    public let pictureIDs: Bool
    public private(set) var pictureID: UInt16
    public private(set) var sequence: UInt16
    public private(set) var frameIndex = 0
    public private(set) var packetCounter: UInt32 = 0
    public private(set) var keyframesSent = 0
    private var keyframeRequested = true
    private let timestampBase: UInt32
    private var rng: UInt64
    public private(set) var current = Frame(isKeyframe: false, bytes: 0, packetCount: 0, packetPayload: 0, timestamp: 0)

    /// `rid` non-empty: a simulcast layer (RID extension once `ridExtensionID` is set, picture IDs).
    public init(config: Config, ssrc: UInt32, payloadType: UInt8, midExtensionID: UInt8 = 0, mid: UInt8 = 0x30,
                seed: UInt64 = 1, rid: String = "") {
        self.config = config
        self.ssrc = ssrc
        self.payloadType = payloadType
        self.midExtensionID = midExtensionID
        self.mid = mid
        self.rid = Array(rid.utf8.prefix(16))
        pictureIDs = !rid.isEmpty
        pictureID = UInt16(truncatingIfNeeded: seed &* 7919) & 0x7FFF
        rng = seed | 1
        sequence = UInt16(truncatingIfNeeded: seed &* 2_654_435_761)
        timestampBase = UInt32(truncatingIfNeeded: seed &* 40_503)
    }

    /// Nanoseconds between frames.
    public var frameIntervalNanos: UInt64 { 1_000_000_000 / UInt64(max(config.fps, 1)) }

    /// RTP header bytes of every packet.
    public var headerLength: Int {
        RTPWriter.headerLength(midExtensionID: midExtensionID, ridExtensionID: ridExtensionID, ridLength: rid.count)
    }

    /// Bytes of the VP8 payload descriptor: 1, or 4 with a 15-bit picture ID.
    public var descriptorLength: Int { pictureIDs ? 4 : 1 }

    /// Where the stamp sits in the payload: after the descriptor and the 10 bytes kept for
    /// the frame header.
    public var stampOffset: Int { pictureIDs ? MediaStamp.videoOffsetWithPictureID : MediaStamp.videoOffset }

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
        // Split as libwebrtc's RtpPacketizer::SplitAboutEqually does: the last `bytes % count`
        // packets one byte larger than the others (a headless Chromium's frames arrive so).
        let per = max(stampOffset + MediaStamp.size, bytes / count)
        let ts = timestampBase &+ UInt32(truncatingIfNeeded: frameIndex &* 90_000 / max(config.fps, 1))
        current = Frame(isKeyframe: key, bytes: bytes, packetCount: count, packetPayload: per, timestamp: ts)
        if frameIndex > 0 { pictureID = (pictureID &+ 1) & 0x7FFF }
        frameIndex += 1
        return current
    }

    /// Writes packet `index` of the current frame (RTP header + payload); returns its length
    /// or 0 if `buffer` is too small.
    public func writePacket(_ index: Int, sendNanos: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let f = current
        let last = index == f.packetCount - 1
        let larger = max(0, f.bytes - f.packetPayload * f.packetCount)
        let payload = f.packetPayload + (index >= f.packetCount - larger ? 1 : 0)
        let h = rid.isEmpty
            ? RTPWriter.writeHeader(into: buffer, payloadType: payloadType, marker: last, sequence: sequence,
                                    timestamp: f.timestamp, ssrc: ssrc, midExtensionID: midExtensionID, mid: mid)
            : RTPWriter.writeHeader(into: buffer, payloadType: payloadType, marker: last, sequence: sequence,
                                    timestamp: f.timestamp, ssrc: ssrc, midExtensionID: midExtensionID, mid: mid,
                                    ridExtensionID: ridExtensionID, rid: rid)
        guard h > 0, buffer.count >= h + payload else { return 0 }
        let p = UnsafeMutableRawBufferPointer(rebasing: buffer[h..<(h + payload)])
        // Filler first, so the headers below overwrite it.
        p.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: sequence) | 1)
        // VP8 payload descriptor (RFC 7741 §4.2): S=1 on a frame's first packet, partition 0;
        // with picture IDs X=1, then I=1 and the 15-bit ID (M=1), on every packet of the frame.
        let start: UInt8 = index == 0 ? 0x10 : 0x00
        var o = 1
        if pictureIDs {
            p[0] = 0x80 | start
            p[1] = 0x80
            p[2] = 0x80 | UInt8(truncatingIfNeeded: pictureID >> 8)
            p[3] = UInt8(truncatingIfNeeded: pictureID)
            o = 4
        } else {
            p[0] = start
        }
        if index == 0 {
            let size = min(f.bytes / 4, (1 << 19) - 1)
            p[o] = UInt8((f.isKeyframe ? 0 : 1) | (1 << 4) | ((size & 0x7) << 5))
            p[o + 1] = UInt8(truncatingIfNeeded: size >> 3)
            p[o + 2] = UInt8(truncatingIfNeeded: size >> 11)
            if f.isKeyframe {
                p[o + 3] = 0x9D
                p[o + 4] = 0x01
                p[o + 5] = 0x2A
                p[o + 6] = UInt8(truncatingIfNeeded: config.width)  // little-endian, scale 0
                p[o + 7] = UInt8(truncatingIfNeeded: config.width >> 8) & 0x3F
                p[o + 8] = UInt8(truncatingIfNeeded: config.height)
                p[o + 9] = UInt8(truncatingIfNeeded: config.height >> 8) & 0x3F
            }
        }
        MediaStamp(sendNanos: sendNanos, counter: packetCounter).write(into: p, at: stampOffset)
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
