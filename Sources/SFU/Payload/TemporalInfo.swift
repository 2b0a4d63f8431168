/// What temporal-layer filtering needs of one VP8 RTP packet (RFC 7741 §4.2): its temporal
/// layer (TID), the layer-sync bit (Y), whether it starts a frame or a keyframe, and its
/// picture ID; or the same of a VP9 packet (`init(vp9Packet:)`). Read once per publisher
/// packet (`TrackFanout.forward`) and shared by every viewer of the batch; a packet of another
/// codec or without a temporal layer reads as `none` or layer 0, never held back. Bounded: a
/// cut-short or malformed packet is `none`, never a read past it.
struct TemporalInfo: Equatable {
    /// TID, 0 without a T field.
    var temporalLayer: UInt8 = 0
    var flags: UInt8 = 0
    var pictureID: UInt16 = 0

    static let hasTemporalLayer: UInt8 = 1
    static let layerSync: UInt8 = 2
    static let startsFrame: UInt8 = 4
    static let keyframe: UInt8 = 8
    static let hasPictureID: UInt8 = 16
    /// VP9's switching-up bit (U), not VP8's Y: see `init(vp9Packet:)`.
    static let switchingUp: UInt8 = 32
    /// Picture IDs go on with holes where frames are held back, not renumbered (VP9).
    static let keepsPictureIDs: UInt8 = 64

    /// The highest temporal layer VP8 signals (TID is 2 bits), and a temporal cap's range.
    static let highestLayer: UInt8 = 3

    static let none = TemporalInfo()

    init() {}

    /// Whether a codec's payload descriptor carries temporal layers this reads (VP8, VP9).
    static func readsLayers(of codec: VideoCodec?) -> Bool { codec == .vp8 || codec == .vp9 }

    /// - Parameter codec: the packet's codec; `none` for one whose layers are not read.
    init(packet: UnsafeRawBufferPointer, codec: VideoCodec?) {
        switch codec {
        case .vp8: self.init(packet: packet)
        case .vp9: self.init(vp9Packet: packet)
        default: self.init()
        }
    }

    /// - Parameter packet: a whole plaintext RTP packet whose payload is VP8.
    init(packet: UnsafeRawBufferPointer) {
        guard let header = RTPPacket.headerLength(of: packet), packet.count > header,
            let d = VP8Depacketizer.Descriptor(parsing: UnsafeRawBufferPointer(rebasing: packet[header...]))
        else { return }
        if let t = d.temporalLayer {
            temporalLayer = t
            flags |= Self.hasTemporalLayer
            if d.layerSync { flags |= Self.layerSync }
        }
        if d.startsFrame {
            flags |= Self.startsFrame
            // P bit of the VP8 payload header (RFC 7741 §4.3): 0 on a keyframe.
            if packet.count > header + d.length, packet[header + d.length] & 0x01 == 0 { flags |= Self.keyframe }
        }
        if let id = d.pictureID {
            pictureID = id
            flags |= Self.hasPictureID
        }
    }

    var startsFrame: Bool { flags & Self.startsFrame != 0 }
    var isKeyframe: Bool { flags & Self.keyframe != 0 }
    var isLayerSync: Bool { flags & Self.layerSync != 0 }
    var hasTemporalLayer: Bool { flags & Self.hasTemporalLayer != 0 }
    var hasPictureID: Bool { flags & Self.hasPictureID != 0 }
    var isSwitchingUp: Bool { flags & Self.switchingUp != 0 }
    var keepsPictureIDs: Bool { flags & Self.keepsPictureIDs != 0 }
}
