/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285): an RTP header extension and
/// the id the writer uses for it.
public struct SDPHeaderExtension: Hashable, Sendable {
    /// 1-14 for the one-byte form, up to 255 with the two-byte form.
    public var id: UInt8
    public var direction: MediaDirection?
    public var uri: String
    public var attributes: String?

    public init(id: UInt8, uri: String, direction: MediaDirection? = nil, attributes: String? = nil) {
        self.id = id
        self.uri = uri
        self.direction = direction
        self.attributes = attributes
    }

    public var attributeValue: String {
        var s = String(id)
        if let direction { s += "/" + direction.rawValue }
        s += " " + uri
        if let attributes { s += " " + attributes }
        return s
    }
}

/// The header extension URIs the server understands.
public enum SDPExtensionURI {
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"
    public static let absSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    public static let audioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
    public static let transportWideCC =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    public static let videoOrientation = "urn:3gpp:video-orientation"
    public static let playoutDelay = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
    public static let rtpStreamID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    public static let repairedRTPStreamID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    public static let transmissionOffset = "urn:ietf:params:rtp-hdrext:toffset"
}
