/// RFC 9628 VP9 depacketizer: strips the payload descriptor (flexible and non-flexible mode,
/// skipping the scalability structure) and joins the layer frames of one picture. A picture
/// of several spatial layers becomes a superframe (VP9 bitstream spec Annex B) with its index,
/// which is how IVF and decoders expect them; a single layer frame is written as is.
public struct VP9Depacketizer: RTPDepacketizer {
    /// The payload descriptor, parsed in place.
    public struct Descriptor: Equatable, Sendable {
        /// Bytes taken by the descriptor; the VP9 payload follows.
        public var length: Int
        /// P: inter-picture predicted.
        public var interPredicted: Bool
        /// B: the packet starts a layer frame.
        public var beginsLayerFrame: Bool
        /// E: the packet ends a layer frame.
        public var endsLayerFrame: Bool
        /// F: flexible mode.
        public var flexible: Bool
        /// I: the 7- or 15-bit picture id.
        public var pictureID: UInt16?
        /// SID from the layer indices (0 without L).
        public var spatialLayer: UInt8
        /// TID from the layer indices (0 without L).
        public var temporalLayer: UInt8
        /// L: the layer indices (TID, U, SID, D) are present.
        public var hasLayerIndices: Bool
        /// U: a switching-up point. libwebrtc sets it on a frame that references no frame of
        /// its own temporal layer or above, so a receiver may take up that layer from here.
        public var switchingUp: Bool

        /// Parses the descriptor; nil when any part of it runs past the payload.
        public init?(parsing p: UnsafeRawBufferPointer) {
            guard p.count >= 1 else { return nil }
            let b0 = p[0]
            interPredicted = b0 & 0x40 != 0
            flexible = b0 & 0x10 != 0
            beginsLayerFrame = b0 & 0x08 != 0
            endsLayerFrame = b0 & 0x04 != 0
            pictureID = nil
            spatialLayer = 0
            temporalLayer = 0
            hasLayerIndices = b0 & 0x20 != 0
            switchingUp = false
            var o = 1
            if b0 & 0x80 != 0 {  // I
                guard let id = PictureID.read(p, at: &o) else { return nil }
                pictureID = id
            }
            if b0 & 0x20 != 0 {  // L: TID U SID D, then TL0PICIDX in non-flexible mode
                guard p.count > o else { return nil }
                temporalLayer = p[o] >> 5
                switchingUp = p[o] & 0x10 != 0
                spatialLayer = (p[o] >> 1) & 0x07
                o += flexible ? 1 : 2
                guard p.count >= o else { return nil }
            }
            if flexible && interPredicted {  // up to 3 P_DIFF bytes, N bit chains them
                var n = 0
                while true {
                    guard p.count > o, n < 3 else { return nil }
                    let more = p[o] & 0x01 != 0
                    o += 1
                    n += 1
                    if !more { break }
                }
            }
            if b0 & 0x02 != 0 {  // V: scalability structure
                guard p.count > o else { return nil }
                let ss = p[o]
                o += 1
                let layers = Int(ss >> 5) + 1
                if ss & 0x10 != 0 { o += 4 * layers }  // Y: width and height per layer
                if ss & 0x08 != 0 {  // G: picture group description
                    guard p.count > o else { return nil }
                    let groups = Int(p[o])
                    o += 1
                    for _ in 0..<groups {
                        guard p.count > o else { return nil }
                        let refs = Int((p[o] >> 2) & 0x03)
                        o += 1 + refs
                    }
                }
                guard p.count >= o else { return nil }
            }
            length = o
        }

        /// B=1 on the first spatial layer starts a picture.
        public var startsFrame: Bool { beginsLayerFrame && spatialLayer == 0 }
    }

    /// Offsets in the frame buffer where each layer frame of the current picture begins.
    private var layerStarts: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var layers = 0
    private var inLayerFrame = false

    public init() {}

    public static func traits(of payload: UnsafeRawBufferPointer) -> PayloadTraits? {
        guard let d = Descriptor(parsing: payload) else { return nil }
        return PayloadTraits(startsFrame: d.startsFrame, isKeyframe: d.startsFrame && !d.interPredicted)
    }

    public mutating func beginFrame(into frame: inout [UInt8]) {
        layers = 0
        inLayerFrame = false
    }

    public mutating func append(
        _ payload: UnsafeRawBufferPointer, into frame: inout [UInt8]
    ) throws(DepacketizerError) {
        guard let d = Descriptor(parsing: payload) else { throw .truncatedDescriptor(count: payload.count) }
        if layers == 0 && !d.startsFrame { throw .notFrameStart }
        if d.beginsLayerFrame {
            if inLayerFrame { throw .unfinishedFragment }
            guard layers < 8 else { throw .tooManyLayers }
            withUnsafeMutableBytes(of: &layerStarts) { $0.bindMemory(to: Int.self)[layers] = frame.count }
            layers += 1
            inLayerFrame = true
        } else if !inLayerFrame {
            throw .fragmentWithoutStart
        }
        frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[d.length...]))
        if d.endsLayerFrame { inLayerFrame = false }
    }

    /// Writes the superframe index when the picture has more than one layer frame.
    public mutating func endFrame(into frame: inout [UInt8]) throws(DepacketizerError) {
        guard layers > 0 else { throw .notFrameStart }
        if inLayerFrame { throw .unfinishedFragment }
        guard layers > 1 else { return }
        let n = layers
        let marker = UInt8(0xC0 | (3 << 3) | (n - 1))  // 4 bytes per size
        let end = frame.count
        frame.append(marker)
        withUnsafeBytes(of: layerStarts) { raw in
            let starts = raw.bindMemory(to: Int.self)
            for i in 0..<n {
                let size = UInt32((i + 1 < n ? starts[i + 1] : end) - starts[i])
                for k in 0..<4 { frame.append(UInt8(truncatingIfNeeded: size >> (8 * k))) }
            }
        }
        frame.append(marker)
    }

    /// Width and height from a key frame's uncompressed header (VP9 spec §6.2), nil if the
    /// frame is not a key frame or the header is cut short.
    public static func keyframeSize(_ frame: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        var r = BitReader(frame)
        guard r.bits(2) == 2 else { return nil }  // frame_marker
        let profile = r.bits(1) | r.bits(1) << 1
        if profile == 3 { _ = r.bits(1) }
        guard r.bits(1) == 0 else { return nil }  // show_existing_frame
        guard r.bits(1) == 0 else { return nil }  // frame_type: 0 = KEY_FRAME
        _ = r.bits(2)  // show_frame, error_resilient_mode
        guard r.bits(24) == 0x49_83_42 else { return nil }  // frame_sync_code
        if profile >= 2 { _ = r.bits(1) }  // ten_or_twelve_bit
        let colorSpace = r.bits(3)
        if colorSpace != 7 {  // not CS_RGB
            _ = r.bits(1)  // color_range
            if profile == 1 || profile == 3 { _ = r.bits(3) }  // subsampling x/y, reserved
        } else if profile == 1 || profile == 3 {
            _ = r.bits(1)
        }
        let w = r.bits(16) + 1
        let h = r.bits(16) + 1
        return r.overrun ? nil : (Int(w), Int(h))
    }
}
