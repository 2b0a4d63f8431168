/// Audio or video: a room has at most one outbound track of each.
public enum TrackKind: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case audio = 0
    case video = 1
    public var description: String { self == .audio ? "audio" : "video" }

    public init?(_ kind: MediaKind) {
        switch kind {
        case .audio: self = .audio
        case .video: self = .video
        default: return nil
        }
    }

    public var mediaKind: MediaKind { self == .audio ? .audio : .video }
}

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
