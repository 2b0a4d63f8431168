import Reactor

/// The client role's identity for an offer: what the load generator and the end-to-end tests
/// put in their WHIP/WHEP offers.
public struct OfferParameters: Hashable, Sendable {
    public var iceUfrag: String
    public var icePassword: String
    /// SHA-256 fingerprint of the client's DTLS certificate, `AB:CD:…`.
    public var fingerprint: String
    public var sessionID: UInt64
    public var sessionVersion: UInt64
    public var cname: String
    /// `a=msid` stream id of the published tracks.
    public var streamID: String
    /// Host candidates to announce (an ICE-lite server learns the client's address from its
    /// checks, so this may stay empty).
    public var candidates: [SocketAddress]
    /// What the offer proposes beyond the codecs (everything a browser does, by default).
    public var features: OfferFeatures

    public init(
        iceUfrag: String, icePassword: String, fingerprint: String, sessionID: UInt64,
        sessionVersion: UInt64 = 1, cname: String, streamID: String = "livesfu-client",
        candidates: [SocketAddress] = [], features: OfferFeatures = .browser
    ) {
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.cname = cname
        self.streamID = streamID
        self.candidates = candidates
        self.features = features
    }
}

/// A track the client publishes.
public struct ClientTrack: Hashable, Sendable {
    public var kind: MediaKind
    public var trackID: String
    public var ssrc: UInt32
    /// The RTX SSRC of a video track (announced with `a=ssrc-group:FID`).
    public var rtxSSRC: UInt32?

    public init(kind: MediaKind, trackID: String, ssrc: UInt32, rtxSSRC: UInt32? = nil) {
        self.kind = kind
        self.trackID = trackID
        self.ssrc = ssrc
        self.rtxSSRC = rtxSSRC
    }
}

/// An offer the client made, kept to read the answer against.
public struct ClientOffer: Hashable, Sendable {
    public var sdp: String
    public var session: SessionDescription
    /// The published track of each m-line (nil for a viewer's m-lines).
    public var tracks: [ClientTrack?]
}

/// Builds the client role's offers (JSEP §5.2 as a browser would: BUNDLE, rtcp-mux,
/// `setup:actpass`, mid on every m-line) with Chromium's payload types and extension ids.
public enum OfferBuilder {
    /// Payload types the client offers, Chromium's numbering: (media, rtx).
    public static func payloadTypes(_ name: SDPCodec.Name) -> (media: UInt8, rtx: UInt8?) {
        switch name {
        case .opus: (111, nil)
        case .vp8: (96, 97)
        case .vp9: (98, 99)
        case .h264: (102, 103)
        case .av1: (45, 46)
        }
    }

    /// A WHIP offer: one sendonly m-line per track (audio Opus; video with RTX in
    /// `videoCodecs` order), mids `0`, `1`, … in track order.
    public static func publisherOffer(
        _ p: OfferParameters, tracks: [ClientTrack], videoCodecs: [SDPCodec.Name] = [.vp8]
    ) -> ClientOffer {
        build(p, sections: tracks.map { ($0.kind, $0) }, videoCodecs: videoCodecs)
    }

    /// A WHEP offer: one recvonly m-line per kind, in the order given.
    public static func viewerOffer(
        _ p: OfferParameters, kinds: [MediaKind] = [.audio, .video], videoCodecs: [SDPCodec.Name] = [.vp8]
    ) -> ClientOffer {
        build(p, sections: kinds.map { ($0, nil) }, videoCodecs: videoCodecs)
    }

    static func codec(_ name: SDPCodec.Name, features: OfferFeatures) -> [SDPCodec] {
        let transportCC = features.contains(.transportCC)
        let pts = payloadTypes(name)
        var media = SDPCodec(
            payloadType: pts.media, encodingName: name.encodingName, clockRate: name.clockRate,
            channels: name.channels)
        switch name {
        case .opus:
            media.parameters = [.init("minptime", "10"), .init("useinbandfec", "1")]
            media.feedback = transportCC ? [.transportCC] : []
            return [media]
        case .h264:
            media.parameters = [
                .init("level-asymmetry-allowed", "1"), .init("packetization-mode", "1"),
                .init("profile-level-id", "42e01f"),
            ]
        case .vp9:
            media.parameters = [.init("profile-id", "0")]
        case .av1:
            media.parameters = [.init("level-idx", "5"), .init("profile", "0"), .init("tier", "0")]
        case .vp8:
            break
        }
        media.feedback =
            (features.contains(.remb) ? [.remb] : []) + (transportCC ? [.transportCC] : []) + [.ccmFIR, .nack, .nackPLI]
        guard let rtxPT = pts.rtx, features.contains(.rtx) else { return [media] }
        let rtx = SDPCodec(
            payloadType: rtxPT, encodingName: "rtx", clockRate: 90000,
            parameters: [.init("apt", String(pts.media))])
        return [media, rtx]
    }

    private static func build(
        _ p: OfferParameters, sections: [(MediaKind, ClientTrack?)], videoCodecs: [SDPCodec.Name]
    ) -> ClientOffer {
        var session = SessionDescription(
            origin: .init(
                sessionID: String(p.sessionID), sessionVersion: String(p.sessionVersion), address: "IN IP4 127.0.0.1"))
        session.extmapAllowMixed = true
        session.msidSemantic = "WMS *"
        let candidates = p.candidates.enumerated().map { SDPCandidate(host: $0.element, index: $0.offset) }
        for (i, (kind, track)) in sections.enumerated() {
            let codecs =
                kind == .audio
                ? codec(.opus, features: p.features)
                : videoCodecs.filter { $0.kind == .video }.flatMap { codec($0, features: p.features) }
            var m = MediaDescription(
                kind: kind, port: p.candidates.first?.port ?? 9, formats: codecs.map { String($0.payloadType) })
            m.connection =
                p.candidates.first.map { "IN \($0.isIPv6 ? "IP6" : "IP4") \($0.ipString)" } ?? "IN IP4 0.0.0.0"
            m.iceUfrag = p.iceUfrag
            m.icePassword = p.icePassword
            m.iceOptions = p.features.contains(.trickle) ? ["trickle"] : []
            m.fingerprints = [SDPFingerprint(algorithm: "sha-256", value: p.fingerprint)]
            m.setup = .actpass
            m.mid = String(i)
            var extensions: [SDPHeaderExtension] = []
            if p.features.contains(.levelAndSendTime) {
                if kind == .audio { extensions.append(.init(id: 1, uri: SDPExtensionURI.audioLevel)) }
                extensions.append(.init(id: 2, uri: SDPExtensionURI.absSendTime))
            }
            if p.features.contains(.transportCC) {
                extensions.append(.init(id: 3, uri: SDPExtensionURI.transportWideCC))
            }
            extensions.append(.init(id: 4, uri: SDPExtensionURI.mid))
            m.headerExtensions = extensions
            m.direction = track == nil ? .recvonly : .sendonly
            m.rtcpMux = true
            m.rtcpReducedSize = true
            m.codecs = codecs
            if let track {
                m.msids = [SDPMediaStreamID(stream: p.streamID, track: track.trackID)]
                var ssrcs = [track.ssrc]
                if kind == .video, let rtx = track.rtxSSRC, p.features.contains(.rtx) {
                    ssrcs.append(rtx)
                    m.ssrcGroups = [SDPSSRCGroup(semantics: "FID", ssrcs: ssrcs)]
                }
                m.ssrcs = ssrcs.map {
                    SDPSSRC(
                        ssrc: $0,
                        attributes: [.init("cname", p.cname), .init("msid", "\(p.streamID) \(track.trackID)")])
                }
            }
            m.candidates = candidates
            m.endOfCandidates = !candidates.isEmpty
            session.media.append(m)
        }
        session.groups = [SDPGroup(semantics: "BUNDLE", mids: session.media.compactMap(\.mid))]
        return ClientOffer(sdp: SDPWriter.write(session), session: session, tracks: sections.map(\.1))
    }
}
