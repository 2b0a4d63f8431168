/// A room track as a viewer's answer announces it: the stable outbound SSRCs the room sends
/// it on (the same for every viewer and across publisher reconnects) and the codec the
/// publisher negotiated, if there is a publisher yet.
public struct OutboundTrackSpec: Hashable, Sendable {
    public var kind: MediaKind
    /// `a=msid` stream and track ids.
    public var streamID: String
    public var trackID: String
    public var ssrc: UInt32
    /// The RTX SSRC (video); announced only when the viewer negotiates RTX.
    public var rtxSSRC: UInt32?
    public var cname: String
    /// The codec the room forwards on this track as the publisher negotiated it (its payload
    /// type does not matter), or nil when no publisher has published yet: the viewer's
    /// preferred codec is then answered, and the room forwards to this viewer only if the
    /// publisher's codec turns out compatible (`CodecPolicy.isCompatible(source:sink:)`).
    public var codec: SDPCodec?

    public init(
        kind: MediaKind, streamID: String, trackID: String, ssrc: UInt32, rtxSSRC: UInt32? = nil,
        cname: String, codec: SDPCodec? = nil
    ) {
        self.kind = kind
        self.streamID = streamID
        self.trackID = trackID
        self.ssrc = ssrc
        self.rtxSSRC = rtxSSRC
        self.cname = cname
        self.codec = codec
    }
}
