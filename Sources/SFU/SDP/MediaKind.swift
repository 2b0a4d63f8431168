/// The media type of an m-line (`m=<kind> …`).
public enum MediaKind: Hashable, Sendable, CustomStringConvertible {
    case audio
    case video
    /// Data channels (`m=application … webrtc-datachannel`): the server rejects them.
    case application
    /// Any other token, kept as written so the line can be rejected by name.
    case other(String)

    public init(token: String) {
        switch token {
        case "audio": self = .audio
        case "video": self = .video
        case "application": self = .application
        default: self = .other(token)
        }
    }

    public var description: String {
        switch self {
        case .audio: "audio"
        case .video: "video"
        case .application: "application"
        case .other(let token): token
        }
    }
}
