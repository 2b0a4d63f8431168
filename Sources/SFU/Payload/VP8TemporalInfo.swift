/// What temporal-layer filtering needs of one VP8 RTP packet (RFC 7741 §4.2): its temporal
/// layer (TID), the layer-sync bit (Y), whether it starts a frame or a keyframe, and its
/// picture ID. Read once per publisher packet (`TrackFanout.forward`) and shared by every
/// viewer of the batch; a packet that is not VP8 or has no T field reads as `none` (layer 0,
/// never held back). Bounded: a cut-short or malformed packet is `none`, never a read past it.
struct VP8TemporalInfo: Equatable {
    /// TID, 0 without a T field.
    var temporalLayer: UInt8 = 0
    var flags: UInt8 = 0
    var pictureID: UInt16 = 0

    static let hasTemporalLayer: UInt8 = 1
    static let layerSync: UInt8 = 2
    static let startsFrame: UInt8 = 4
    static let keyframe: UInt8 = 8
    static let hasPictureID: UInt8 = 16

    static let none = VP8TemporalInfo()

    init() {}

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
}
