/// A VP9 packet's temporal layer (RFC 9628 §4.2) in `TemporalInfo`'s fields, for the same
/// temporal caps (`TemporalFilter`), with two differences the filter follows:
///
/// - U, the switching-up bit, is not VP8's Y. Y marks a frame that references only the last
///   TL0 frame; U on a frame of layer t says the frames above layer t that follow reference
///   nothing before it above layer t (and libwebrtc sets it on every frame of its L1T2 and
///   L1T3 structures, a T2 frame that references the T1 frame before it included). So a cap
///   goes up after a U frame within the cap, not at one above it (`switchingUp`).
/// - Picture IDs are not renumbered around held-back frames (`keepsPictureIDs`): a VP9
///   receiver finds a frame's references by picture ID distance (P_DIFF in flexible mode, the
///   place in the group of pictures otherwise), which a renumbering would move; a hole reads
///   as frames of the layers it does not get, which no frame it gets references.
///
/// A TID above `highestLayer` (VP9 has 3 bits) reads as that layer, held back by any cap.
extension TemporalInfo {
    /// - Parameter packet: a whole plaintext RTP packet whose payload is VP9.
    init(vp9Packet packet: UnsafeRawBufferPointer) {
        self.init()
        guard let header = RTPPacket.headerLength(of: packet), packet.count > header,
            let d = VP9Depacketizer.Descriptor(parsing: UnsafeRawBufferPointer(rebasing: packet[header...]))
        else { return }
        flags = Self.keepsPictureIDs
        if d.hasLayerIndices {
            temporalLayer = min(d.temporalLayer, Self.highestLayer)
            flags |= Self.hasTemporalLayer
            if d.switchingUp { flags |= Self.switchingUp }
        }
        if d.startsFrame {
            flags |= Self.startsFrame
            if !d.interPredicted { flags |= Self.keyframe }
        }
        if let id = d.pictureID {
            pictureID = id
            flags |= Self.hasPictureID
        }
    }
}
