/// One m-section: the `m=` line and every line up to the next one.
public struct MediaDescription: Hashable, Sendable {
    public var kind: MediaKind
    /// 0 rejects the m-line (unless `bundleOnly`).
    public var port: UInt16
    /// `m=<kind> <port>/<count>`: rare, kept for round trips.
    public var portCount: UInt16?
    /// e.g. `UDP/TLS/RTP/SAVPF` or `UDP/DTLS/SCTP`.
    public var proto: String
    /// The format tokens of the m-line in order (payload types for RTP).
    public var formats: [String]
    /// `c=` value, e.g. `IN IP4 127.0.0.1`.
    public var connection: String?
    /// `b=` values, e.g. `AS:2500`.
    public var bandwidths: [String]

    public var mid: String?
    /// nil when the section has no direction attribute (which means `sendrecv`).
    public var direction: MediaDirection?
    public var iceUfrag: String?
    public var icePassword: String?
    public var iceOptions: [String]
    public var fingerprints: [SDPFingerprint]
    public var setup: SDPSetupRole?
    public var rtcpMux: Bool
    public var rtcpReducedSize: Bool
    /// `a=rtcp:` value (ignored with rtcp-mux, kept for round trips).
    public var rtcp: String?
    public var bundleOnly: Bool
    public var candidates: [SDPCandidate]
    public var endOfCandidates: Bool
    /// Codecs with an `a=rtpmap`, in m-line order (the offerer's preference), RTX included.
    public var codecs: [SDPCodec]
    /// `a=rtcp-fb:* …` lines that apply to every payload type.
    public var wildcardFeedback: [SDPCodec.Feedback]
    public var headerExtensions: [SDPHeaderExtension]
    public var extmapAllowMixed: Bool
    public var msids: [SDPMediaStreamID]
    public var ssrcs: [SDPSSRC]
    public var ssrcGroups: [SDPSSRCGroup]
    /// Attributes not modelled above, in the order written.
    public var otherAttributes: [SDPAttribute]

    public init(kind: MediaKind, port: UInt16 = 9, proto: String = "UDP/TLS/RTP/SAVPF", formats: [String] = []) {
        self.kind = kind
        self.port = port
        self.portCount = nil
        self.proto = proto
        self.formats = formats
        connection = nil
        bandwidths = []
        mid = nil
        direction = nil
        iceUfrag = nil
        icePassword = nil
        iceOptions = []
        fingerprints = []
        setup = nil
        rtcpMux = false
        rtcpReducedSize = false
        rtcp = nil
        bundleOnly = false
        candidates = []
        endOfCandidates = false
        codecs = []
        wildcardFeedback = []
        headerExtensions = []
        extmapAllowMixed = false
        msids = []
        ssrcs = []
        ssrcGroups = []
        otherAttributes = []
    }

    /// The direction with the RFC default applied.
    public var effectiveDirection: MediaDirection { direction ?? .sendrecv }

    /// Whether the m-line carries RTP over DTLS-SRTP (`UDP/TLS/RTP/SAVPF` or `…/SAVP`).
    public var isSecureRTP: Bool {
        let p = proto.uppercased()
        return p == "UDP/TLS/RTP/SAVPF" || p == "UDP/TLS/RTP/SAVP"
    }

    public func codec(payloadType: UInt8) -> SDPCodec? {
        codecs.first { $0.payloadType == payloadType }
    }

    /// The RTX codec whose `apt` is `payloadType`.
    public func rtxCodec(for payloadType: UInt8) -> SDPCodec? {
        codecs.first { $0.associatedPayloadType == payloadType }
    }

    /// The id the writer gave to an extension URI.
    public func headerExtensionID(_ uri: String) -> UInt8? {
        headerExtensions.first { $0.uri == uri }?.id
    }

    /// Feedback for a payload type including the wildcard lines.
    public func feedback(for codec: SDPCodec) -> [SDPCodec.Feedback] {
        codec.feedback + wildcardFeedback.filter { !codec.feedback.contains($0) }
    }

    /// The media SSRC and its RTX SSRC: from `a=ssrc-group:FID` when present, else the first
    /// `a=ssrc` line.
    public var primarySSRCs: (media: UInt32, rtx: UInt32?)? {
        if let fid = ssrcGroups.first(where: { $0.semantics == "FID" }), let media = fid.ssrcs.first {
            return (media, fid.ssrcs.count > 1 ? fid.ssrcs[1] : nil)
        }
        if let first = ssrcs.first { return (first.ssrc, nil) }
        return nil
    }
}
