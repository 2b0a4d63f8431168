import Reactor
import SFU

/// The SDP offers the load generator sends, built by the SFU's `OfferBuilder`: a publisher's
/// (sendonly VP8 + Opus, SSRCs declared) and a viewer's (recvonly VP8 + Opus), video first,
/// BUNDLEd, rtcp-mux, non-trickle with the one host candidate of the client's socket. They
/// follow what Chromium sends (fixtures/sdp), minus what the load generator does not
/// implement (`OfferFeatures`: RTX, REMB, transport-cc, extensions besides MID).
///
/// A simulcast publisher's video m-line is Chromium's with `sendEncodings` and RIDs: no SSRC
/// lines (the layers' SSRCs are unsignalled), the RID and repaired-RID extensions (Chromium's
/// ids), an `a=rid:<rid> send` per layer and `a=simulcast:send r0;r1;…`.
public struct LoadOffer: Sendable {
    public enum Role: Sendable { case publisher, viewer }
    public var role: Role
    public var iceUfrag: String
    public var icePassword: String
    /// "sha-256 AB:CD:…"
    public var fingerprint: String
    public var candidate: SocketAddress
    public var videoSSRC: UInt32 = 0
    public var audioSSRC: UInt32 = 0
    public var sessionID: UInt64 = 1
    /// Simulcast layers the publisher offers, best first (empty: one layer).
    public var simulcastRIDs: [String] = []

    /// Chromium's ids for the RID extensions.
    public static let ridExtensionID: UInt8 = 10
    public static let repairedRIDExtensionID: UInt8 = 11

    public static let videoPT: UInt8 = OfferBuilder.payloadTypes(.vp8).media
    public static let audioPT: UInt8 = OfferBuilder.payloadTypes(.opus).media

    public init(role: Role, iceUfrag: String, icePassword: String, fingerprint: String, candidate: SocketAddress) {
        self.role = role
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidate = candidate
    }

    public var sdp: String {
        // OfferBuilder offers SHA-256 fingerprints and wants the bare value.
        let value = fingerprint.split(separator: " ").last.map(String.init) ?? fingerprint
        let p = OfferParameters(
            iceUfrag: iceUfrag, icePassword: icePassword, fingerprint: value, sessionID: sessionID,
            sessionVersion: 2, cname: "livesfu-load", streamID: "lsfu", candidates: [candidate], features: [])
        switch role {
        case .publisher:
            let tracks = [
                ClientTrack(kind: .video, trackID: "lsfu-video", ssrc: videoSSRC),
                ClientTrack(kind: .audio, trackID: "lsfu-audio", ssrc: audioSSRC),
            ]
            let offer = OfferBuilder.publisherOffer(p, tracks: tracks)
            guard !simulcastRIDs.isEmpty else { return offer.sdp }
            var session = offer.session
            for i in session.media.indices where session.media[i].kind == .video {
                session.media[i].ssrcs = []
                session.media[i].ssrcGroups = []
                session.media[i].headerExtensions += [
                    SDPHeaderExtension(id: Self.ridExtensionID, uri: SDPExtensionURI.rtpStreamID),
                    SDPHeaderExtension(id: Self.repairedRIDExtensionID, uri: SDPExtensionURI.repairedRTPStreamID),
                ]
                session.media[i].otherAttributes += simulcastRIDs.map { SDPAttribute("rid", "\($0) send") }
                    + [SDPAttribute("simulcast", "send " + simulcastRIDs.joined(separator: ";"))]
            }
            return SDPWriter.write(session)
        case .viewer:
            return OfferBuilder.viewerOffer(p, kinds: [.video, .audio]).sdp
        }
    }
}
