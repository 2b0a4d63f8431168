/// What one accepted m-line settled on, from the server's point of view. Payload types and
/// extension ids are the peer's: the media path rewrites outgoing packets to them per viewer.
public struct NegotiatedMedia: Hashable, Sendable {
    public var mid: String
    /// Position of the m-line in the offer (and the answer).
    public var index: Int
    public var kind: MediaKind
    /// The answer's direction: `recvonly` for a publisher's track, `sendonly` for a viewer's,
    /// `inactive` when there is nothing to carry.
    public var direction: MediaDirection
    /// The chosen codec with the peer's payload type, its offered fmtp, and only the negotiated
    /// rtcp-fb lines.
    public var codec: SDPCodec
    public var codecName: SDPCodec.Name
    /// The peer's RTX payload type for `codec`, when RTX was negotiated.
    public var rtxPayloadType: UInt8?
    public var extensions: NegotiatedExtensions
    public var feedback: NegotiatedFeedback
    public var rtcpReducedSize: Bool
    /// The peer's SSRCs from its `a=ssrc-group:FID` / `a=ssrc` lines (a publisher's media
    /// streams; a viewer's RTCP sender SSRC), when it listed them.
    public var remoteSSRC: UInt32?
    public var remoteRTXSSRC: UInt32?
    public var remoteMSID: SDPMediaStreamID?
    /// Viewer role: the room track sent on this m-line and the SSRCs announced for it.
    public var trackID: String?
    public var localSSRC: UInt32?
    public var localRTXSSRC: UInt32?
    /// A publisher's simulcast layers by RID, in its `a=simulcast` order; empty without.
    public var simulcastRIDs: [String]

    public init(
        mid: String, index: Int, kind: MediaKind, direction: MediaDirection, codec: SDPCodec,
        codecName: SDPCodec.Name, rtxPayloadType: UInt8? = nil,
        extensions: NegotiatedExtensions = .init(), feedback: NegotiatedFeedback = [],
        rtcpReducedSize: Bool = false, remoteSSRC: UInt32? = nil, remoteRTXSSRC: UInt32? = nil,
        remoteMSID: SDPMediaStreamID? = nil, trackID: String? = nil, localSSRC: UInt32? = nil,
        localRTXSSRC: UInt32? = nil, simulcastRIDs: [String] = []
    ) {
        self.mid = mid
        self.index = index
        self.kind = kind
        self.direction = direction
        self.codec = codec
        self.codecName = codecName
        self.rtxPayloadType = rtxPayloadType
        self.extensions = extensions
        self.feedback = feedback
        self.rtcpReducedSize = rtcpReducedSize
        self.remoteSSRC = remoteSSRC
        self.remoteRTXSSRC = remoteRTXSSRC
        self.remoteMSID = remoteMSID
        self.trackID = trackID
        self.localSSRC = localSSRC
        self.localRTXSSRC = localRTXSSRC
        self.simulcastRIDs = simulcastRIDs
    }

    /// The peer's payload type for the media codec.
    public var payloadType: UInt8 { codec.payloadType }
}

/// The negotiated RTCP feedback of a codec.
public struct NegotiatedFeedback: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let nack = NegotiatedFeedback(rawValue: 1 << 0)
    public static let pli = NegotiatedFeedback(rawValue: 1 << 1)
    public static let fir = NegotiatedFeedback(rawValue: 1 << 2)
    public static let remb = NegotiatedFeedback(rawValue: 1 << 3)
    public static let transportCC = NegotiatedFeedback(rawValue: 1 << 4)

    public init(_ lines: [SDPCodec.Feedback]) {
        var f: NegotiatedFeedback = []
        for line in lines {
            switch (line.type, line.parameter) {
            case ("nack", nil): f.insert(.nack)
            case ("nack", "pli"): f.insert(.pli)
            case ("ccm", "fir"): f.insert(.fir)
            case ("goog-remb", nil): f.insert(.remb)
            case ("transport-cc", nil): f.insert(.transportCC)
            default: break
            }
        }
        self = f
    }
}

/// Negotiated RTP header extension ids (the peer's) by the URIs the server understands; nil
/// when not negotiated.
public struct NegotiatedExtensions: Hashable, Sendable {
    public var mid: UInt8?
    public var absSendTime: UInt8?
    public var audioLevel: UInt8?
    public var transportWideCC: UInt8?
    public var videoOrientation: UInt8?
    public var playoutDelay: UInt8?
    /// Simulcast: the RID of a layer's packets and of its RTX repairs.
    public var rid: UInt8?
    public var repairedRID: UInt8?
    /// Every negotiated extension, as in the answer.
    public var all: [SDPHeaderExtension]

    public init(_ extensions: [SDPHeaderExtension] = []) {
        all = extensions
        func id(_ uri: String) -> UInt8? { extensions.first { $0.uri == uri }?.id }
        mid = id(SDPExtensionURI.mid)
        absSendTime = id(SDPExtensionURI.absSendTime)
        audioLevel = id(SDPExtensionURI.audioLevel)
        transportWideCC = id(SDPExtensionURI.transportWideCC)
        videoOrientation = id(SDPExtensionURI.videoOrientation)
        playoutDelay = id(SDPExtensionURI.playoutDelay)
        rid = id(SDPExtensionURI.rtpStreamID)
        repairedRID = id(SDPExtensionURI.repairedRTPStreamID)
    }
}
