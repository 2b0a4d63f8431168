import Reactor

/// The server's side of an answer: its ICE credentials, DTLS fingerprint, host candidates and
/// negotiation policy.
public struct AnswerParameters: Hashable, Sendable {
    public var iceUfrag: String
    public var icePassword: String
    /// SHA-256 fingerprint of the server's DTLS certificate, `AB:CD:…`.
    public var fingerprint: String
    /// Host candidates: the owning core's UDP address(es). The first one's port goes on the
    /// m-lines.
    public var candidates: [SocketAddress]
    public var codecs: CodecPolicy
    /// Negotiate `transport-cc` (feedback and the transport-wide sequence extension) only when
    /// the server really sends transport-wide feedback for this peer; Chromium's sender
    /// collapses to ≈30 kbps when it is negotiated and none comes (INTEROP.md).
    public var sendTransportCC: Bool
    /// Header extensions the server accepts, by URI; `transport-wide-cc` is further gated by
    /// `sendTransportCC`.
    public var headerExtensions: [String]
    public var sessionID: UInt64
    public var sessionVersion: UInt64

    public static let defaultHeaderExtensions = [
        SDPExtensionURI.mid, SDPExtensionURI.absSendTime, SDPExtensionURI.audioLevel,
        SDPExtensionURI.transportWideCC, SDPExtensionURI.videoOrientation,
    ]

    public init(
        iceUfrag: String, icePassword: String, fingerprint: String, candidates: [SocketAddress],
        codecs: CodecPolicy = .default, sendTransportCC: Bool = false,
        headerExtensions: [String] = AnswerParameters.defaultHeaderExtensions,
        sessionID: UInt64, sessionVersion: UInt64 = 1
    ) {
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidates = candidates
        self.codecs = codecs
        self.sendTransportCC = sendTransportCC
        self.headerExtensions = headerExtensions
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
    }
}

/// Which side of a room the offerer is on.
public enum AnswerRole: Hashable, Sendable {
    /// WHIP: the offer sends (sendonly/sendrecv); the answer receives (recvonly).
    case publisher
    /// WHEP: the offer receives (recvonly/sendrecv); the answer sends the room's tracks
    /// (sendonly, with their msid/ssrc/FID). Each offered m-line takes the first unassigned
    /// track of its kind whose codec the viewer offered (any track when its codec is not known
    /// yet); an m-line with nothing to send is answered `inactive`, not rejected.
    case viewer(tracks: [OutboundTrackSpec])
}
