extension VideoCodec {
    /// The keyframe detector's codec for a negotiated codec name (nil for audio).
    init?(_ name: SDPCodec.Name) {
        switch name {
        case .vp8: self = .vp8
        case .vp9: self = .vp9
        case .h264: self = .h264
        case .av1: self = .av1
        case .opus: return nil
        }
    }
}
