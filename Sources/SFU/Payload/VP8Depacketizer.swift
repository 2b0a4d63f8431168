/// RFC 7741 VP8 depacketizer: strips the payload descriptor and concatenates the partitions
/// of one frame; IVF takes the VP8 frame as is.
public struct VP8Depacketizer: RTPDepacketizer {
    /// The payload descriptor (RFC 7741 §4.2), parsed in place.
    public struct Descriptor: Equatable, Sendable {
        /// Bytes taken by the descriptor; the VP8 payload follows.
        public var length: Int
        /// S: the packet starts a VP8 partition.
        public var startOfPartition: Bool
        /// PID: the partition index (0-7).
        public var partitionIndex: UInt8
        /// N: the frame is not a reference for others.
        public var nonReference: Bool
        /// I: the 7- or 15-bit PictureID.
        public var pictureID: UInt16?
        /// L: TL0PICIDX.
        public var tl0PictureIndex: UInt8?
        /// T: the temporal layer index.
        public var temporalLayer: UInt8?
        /// Y (with T): the frame depends only on base-layer (TL0) frames, so a receiver may
        /// start taking its temporal layer here.
        public var layerSync: Bool
        /// K: KEYIDX.
        public var keyIndex: UInt8?

        /// Parses the descriptor; nil when it runs past the payload.
        public init?(parsing p: UnsafeRawBufferPointer) {
            guard p.count >= 1 else { return nil }
            let b0 = p[0]
            startOfPartition = b0 & 0x10 != 0
            partitionIndex = b0 & 0x07
            nonReference = b0 & 0x20 != 0
            pictureID = nil
            tl0PictureIndex = nil
            temporalLayer = nil
            layerSync = false
            keyIndex = nil
            var o = 1
            if b0 & 0x80 != 0 {
                guard p.count > o else { return nil }
                let x = p[o]
                o += 1
                if x & 0x80 != 0 {
                    guard let id = PictureID.read(p, at: &o) else { return nil }
                    pictureID = id
                }
                if x & 0x40 != 0 {
                    guard p.count > o else { return nil }
                    tl0PictureIndex = p[o]
                    o += 1
                }
                if x & 0x30 != 0 {
                    guard p.count > o else { return nil }
                    if x & 0x20 != 0 {
                        temporalLayer = p[o] >> 6
                        layerSync = p[o] & 0x20 != 0
                    }
                    if x & 0x10 != 0 { keyIndex = p[o] & 0x1F }
                    o += 1
                }
            }
            length = o
        }

        /// The packet starts a frame: S=1 in partition 0.
        public var startsFrame: Bool { startOfPartition && partitionIndex == 0 }
    }

    /// True once the current frame has had its first packet.
    private var inFrame = false

    public init() {}

    /// S=1 and PID=0 starts a frame; the VP8 payload header's P bit (bit 0 of its first byte,
    /// RFC 7741 §4.3) is 0 on a key frame. A descriptor with nothing after it is malformed.
    public static func traits(of payload: UnsafeRawBufferPointer) -> PayloadTraits? {
        guard let d = Descriptor(parsing: payload), payload.count > d.length else { return nil }
        let start = d.startsFrame
        return PayloadTraits(startsFrame: start, isKeyframe: start && payload[d.length] & 0x01 == 0)
    }

    public mutating func beginFrame(into frame: inout [UInt8]) { inFrame = false }

    public mutating func append(
        _ payload: UnsafeRawBufferPointer, into frame: inout [UInt8]
    ) throws(DepacketizerError) {
        guard let d = Descriptor(parsing: payload), payload.count > d.length else {
            throw .truncatedDescriptor(count: payload.count)
        }
        if !inFrame {
            guard d.startsFrame else { throw .notFrameStart }
            inFrame = true
        }
        frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[d.length...]))
    }

    public mutating func endFrame(into frame: inout [UInt8]) throws(DepacketizerError) {
        guard inFrame else { throw .notFrameStart }
        inFrame = false
    }

    /// Width and height from a VP8 key frame (RFC 6386 §9.1: 3-byte frame tag, start code
    /// 9d 01 2a, then 14-bit width and height, little-endian, each with 2 scaling bits).
    public static func keyframeSize(_ frame: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        guard frame.count >= 10, frame[0] & 0x01 == 0,
            frame[3] == 0x9D, frame[4] == 0x01, frame[5] == 0x2A
        else { return nil }
        let w = (Int(frame[7]) << 8 | Int(frame[6])) & 0x3FFF
        let h = (Int(frame[9]) << 8 | Int(frame[8])) & 0x3FFF
        return (w, h)
    }
}
