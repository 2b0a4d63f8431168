/// Audio or video: the media kinds (`MediaKind`) a room forwards, one outbound track of each.
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
