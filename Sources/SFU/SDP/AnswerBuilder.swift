/// The result of answering an offer.
public struct SDPAnswer: Hashable, Sendable {
    /// The answer text (CRLF).
    public var sdp: String
    /// The answer as a model (what `sdp` serializes).
    public var session: SessionDescription
    /// Accepted m-lines (bundled, on one transport), in m-line order.
    public var media: [NegotiatedMedia]
    /// m-lines answered with port 0, with the reason.
    public var rejected: [RejectedMedia]
    /// The BUNDLE group of the answer; the first mid is the answerer-tagged m-line.
    public var bundleMids: [String]
    /// The peer's ICE credentials and DTLS fingerprints (from the bundle-tagged m-line).
    public var remoteICEUfrag: String
    public var remoteICEPassword: String
    public var remoteFingerprints: [SDPFingerprint]
    /// The peer's candidates (an ICE-lite server does not need them; kept for logs).
    public var remoteCandidates: [SDPCandidate]
    /// Viewer role: tracks that found no m-line (or no codec the viewer can receive).
    public var unassignedTrackIDs: [String]
}

/// An m-line the answer rejects (port 0).
public struct RejectedMedia: Hashable, Sendable {
    public var index: Int
    public var mid: String?
    public var kind: MediaKind
    public var reason: String
}

/// Builds the server's answer to a browser's offer (JSEP RFC 9429 §5.3 answerer rules,
/// BUNDLE RFC 9143, ICE-lite, DTLS passive). A pure function of the offer and the server's
/// parameters.
public enum AnswerBuilder {
    /// The DTLS fingerprint hashes the DTLS layer can verify.
    static let fingerprintAlgorithms: Set<String> = ["sha-1", "sha-224", "sha-256", "sha-384", "sha-512"]

    /// Answers a parsed offer. Throws when the offer cannot be served at all: nothing usable,
    /// no rtcp-mux, missing ICE credentials or fingerprint, DTLS role the server cannot take.
    public static func buildAnswer(
        offer: SessionDescription, parameters p: AnswerParameters, role: AnswerRole
    ) throws(SDPError) -> SDPAnswer {
        guard !offer.media.isEmpty else { throw .noUsableMedia("the offer has no m-lines") }
        let offerBundle = offer.bundleMids
        var rejected: [RejectedMedia] = []
        var accepted: [Int] = []
        var chosen: [Int: SDPCodec] = [:]

        // Pass 1: which m-lines can be accepted at all.
        for (i, m) in offer.media.enumerated() {
            func reject(_ reason: String) {
                rejected.append(RejectedMedia(index: i, mid: m.mid, kind: m.kind, reason: reason))
            }
            switch m.kind {
            case .audio, .video: break
            case .application:
                reject("data channels are not supported")
                continue
            case .other(let k):
                reject("media type '\(k)' is not supported")
                continue
            }
            guard m.port != 0 || m.bundleOnly else {
                reject("rejected by the offerer (port 0)")
                continue
            }
            guard m.isSecureRTP else {
                reject("transport \(m.proto) is not supported (UDP/TLS/RTP/SAVPF required)")
                continue
            }
            guard let mid = m.mid else {
                reject("no a=mid (BUNDLE requires one)")
                continue
            }
            if !offerBundle.isEmpty, !offerBundle.contains(mid) {
                reject("not in the offer's BUNDLE group (the server uses one transport)")
                continue
            }
            guard let codec = p.codecs.choose(from: m) else {
                let offered = m.codecs.filter { !$0.isRTX }.map(\.encodingName)
                reject(
                    "no supported \(m.kind) codec (offered: \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))"
                )
                continue
            }
            guard m.rtcpMux else {
                throw .unsupported(
                    "m-line \(i) (mid \(mid)) has no a=rtcp-mux; the server requires RTP/RTCP multiplexing")
            }
            chosen[i] = codec
            accepted.append(i)
        }
        guard let tagIndex = accepted.first else {
            throw .noUsableMedia(
                rejected.map { "m-line \($0.index) (\($0.kind)): \($0.reason)" }.joined(separator: "; "))
        }
        if offerBundle.isEmpty, accepted.count > 1 {
            throw .unsupported(
                "the offer has \(accepted.count) usable m-lines but no a=group:BUNDLE; the server needs max-bundle")
        }

        // The transport of the bundle: the offerer-tagged m-line if accepted, else the first accepted.
        let bundleOrder = offerBundle.compactMap { mid in accepted.first { offer.media[$0].mid == mid } }
        let tagged = offer.media[bundleOrder.first ?? tagIndex]
        guard let ice = offer.iceCredentials(of: tagged) else {
            throw .missing("no a=ice-ufrag/a=ice-pwd for mid \(tagged.mid ?? "?")")
        }
        guard ice.ufrag.count >= 4, ice.password.count >= 22 else {
            throw .unsupported("ICE credentials too short (ufrag ≥ 4, pwd ≥ 22 characters, RFC 8839)")
        }
        let fingerprints = offer.fingerprints(of: tagged)
        guard !fingerprints.isEmpty else { throw .missing("no a=fingerprint for mid \(tagged.mid ?? "?")") }
        guard fingerprints.contains(where: { fingerprintAlgorithms.contains($0.algorithm) }) else {
            throw .unsupported("no fingerprint with a supported hash (sha-256 expected)")
        }
        switch offer.setup(of: tagged) {
        case .passive:
            throw .unsupported(
                "the offer asks the server to be DTLS client (a=setup:passive); the server is DTLS passive only")
        case .holdconn:
            throw .unsupported("a=setup:holdconn is not supported")
        case .actpass, .active, nil:
            break
        }

        // Pass 2: answer each m-line.
        var tracks: [OutboundTrackSpec] = []
        var isViewer = false
        if case .viewer(let t) = role {
            tracks = t
            isViewer = true
        }
        var assigned = Set<Int>()
        var negotiated: [NegotiatedMedia] = []
        var answerMedia: [MediaDescription] = []
        let allowMixed = offer.extmapAllowMixed || offer.media.contains { $0.extmapAllowMixed }
        let port = p.candidates.first?.port ?? 9
        let connection =
            p.candidates.first.map { "IN \($0.isIPv6 ? "IP6" : "IP4") \($0.ipString)" }
            ?? "IN IP4 0.0.0.0"
        let candidates = p.candidates.enumerated().map { SDPCandidate(host: $0.element, index: $0.offset) }

        for (i, offered) in offer.media.enumerated() {
            guard var codec = chosen[i], let mid = offered.mid else {
                answerMedia.append(rejectedSection(offered))
                continue
            }
            var direction: MediaDirection
            var track: OutboundTrackSpec?
            if isViewer {
                direction = .inactive
                if offered.effectiveDirection.receives {
                    for (t, spec) in tracks.enumerated() where !assigned.contains(t) && spec.kind == offered.kind {
                        if let source = spec.codec {
                            guard let match = p.codecs.match(source, in: offered) else { continue }
                            codec = match
                        }
                        assigned.insert(t)
                        track = spec
                        direction = .sendonly
                        break
                    }
                }
            } else {
                direction = offered.effectiveDirection.sends ? .recvonly : .inactive
            }

            // Simulcast from a publisher (video): its layers are received, named by RID.
            let simulcast = !isViewer && offered.kind == .video && direction == .recvonly
                ? try SDPSimulcast.offered(in: offered) : nil
            // RTCP feedback: the supported set, transport-cc only with its extension.
            let extensions = answerExtensions(offered, p, simulcast: simulcast != nil)
            let hasTWCCExtension = extensions.contains { $0.uri == SDPExtensionURI.transportWideCC }
            let supportedFeedback: [SDPCodec.Feedback] =
                [.nack, .nackPLI, .ccmFIR, .remb] + (hasTWCCExtension ? [.transportCC] : [])
            codec.feedback = offered.feedback(for: codec).filter { supportedFeedback.contains($0) }
            // A sender's own properties (RFC 7587 §7.1, RFC 6184 §8.1) describe what the
            // offerer sends; echoed, they would claim things about what this side sends.
            codec.parameters.removeAll { SDPCodec.senderOnlyParameters.contains($0.key.lowercased()) }

            var rtx: SDPCodec?
            if p.codecs.rtx, offered.kind == .video, let r = offered.rtxCodec(for: codec.payloadType),
                r.clockRate == codec.clockRate, !isViewer || track == nil || track?.rtxSSRC != nil
            {
                rtx = SDPCodec(
                    payloadType: r.payloadType, encodingName: r.encodingName, clockRate: r.clockRate,
                    channels: r.channels, parameters: r.parameters)
            }

            var m = MediaDescription(
                kind: offered.kind, port: port, proto: offered.proto,
                formats: [String(codec.payloadType)] + (rtx.map { [String($0.payloadType)] } ?? []))
            m.connection = connection
            m.iceUfrag = p.iceUfrag
            m.icePassword = p.icePassword
            m.fingerprints = [SDPFingerprint(algorithm: "sha-256", value: p.fingerprint)]
            m.setup = .passive
            m.mid = mid
            m.headerExtensions = extensions
            m.direction = direction
            m.rtcpMux = true
            m.rtcpReducedSize = offered.rtcpReducedSize
            m.codecs = [codec] + (rtx.map { [$0] } ?? [])
            if let simulcast { m.otherAttributes = simulcast.answerAttributes }
            if let track, direction == .sendonly {
                m.msids = [SDPMediaStreamID(stream: track.streamID, track: track.trackID)]
                var ssrcs = [track.ssrc]
                if rtx != nil, let r = track.rtxSSRC {
                    ssrcs.append(r)
                    m.ssrcGroups = [SDPSSRCGroup(semantics: "FID", ssrcs: ssrcs)]
                }
                m.ssrcs = ssrcs.map {
                    SDPSSRC(
                        ssrc: $0,
                        attributes: [
                            .init("cname", track.cname), .init("msid", "\(track.streamID) \(track.trackID)"),
                        ])
                }
            }
            m.candidates = candidates
            m.endOfCandidates = true
            answerMedia.append(m)

            let remote = offered.primarySSRCs
            negotiated.append(
                NegotiatedMedia(
                    mid: mid, index: i, kind: offered.kind, direction: direction, codec: codec,
                    codecName: codec.name ?? .opus, rtxPayloadType: rtx?.payloadType,
                    extensions: NegotiatedExtensions(extensions),
                    feedback: NegotiatedFeedback(codec.feedback),
                    rtcpReducedSize: offered.rtcpReducedSize, remoteSSRC: remote?.media,
                    remoteRTXSSRC: remote?.rtx, remoteMSID: offered.msids.first,
                    trackID: direction == .sendonly ? track?.trackID : nil,
                    localSSRC: direction == .sendonly ? track?.ssrc : nil,
                    localRTXSSRC: direction == .sendonly && rtx != nil ? track?.rtxSSRC : nil,
                    simulcastRIDs: simulcast?.rids ?? []))
        }

        if !isViewer, !negotiated.contains(where: { $0.direction == .recvonly }) {
            throw .noUsableMedia("no m-line sends media to the server (a publisher offer must be sendonly or sendrecv)")
        }

        let bundle =
            bundleOrder.isEmpty
            ? accepted.compactMap { offer.media[$0].mid } : bundleOrder.compactMap { offer.media[$0].mid }
        var session = SessionDescription(
            origin: .init(
                username: "-", sessionID: String(p.sessionID), sessionVersion: String(p.sessionVersion),
                address: connection))
        session.iceLite = true
        session.groups = [SDPGroup(semantics: "BUNDLE", mids: bundle)]
        session.extmapAllowMixed = allowMixed
        if isViewer { session.msidSemantic = "WMS *" }
        session.media = answerMedia

        return SDPAnswer(
            sdp: SDPWriter.write(session), session: session, media: negotiated, rejected: rejected,
            bundleMids: bundle, remoteICEUfrag: ice.ufrag, remoteICEPassword: ice.password,
            remoteFingerprints: fingerprints, remoteCandidates: offer.media.flatMap(\.candidates),
            unassignedTrackIDs: tracks.enumerated().filter { !assigned.contains($0.offset) }.map(\.element.trackID))
    }

    /// Parses and answers offer text in one step.
    public static func buildAnswer(
        offerText: String, parameters: AnswerParameters, role: AnswerRole
    ) throws(SDPError) -> SDPAnswer {
        try buildAnswer(offer: SDPParser.parse(offerText), parameters: parameters, role: role)
    }

    /// The offered extensions the server keeps, with the peer's ids and reversed directions.
    /// The RID ones only with simulcast: they name its layers, and nothing else uses them.
    static func answerExtensions(_ offered: MediaDescription, _ p: AnswerParameters, simulcast: Bool = false) -> [SDPHeaderExtension] {
        offered.headerExtensions.compactMap { e in
            let isRID = e.uri == SDPExtensionURI.rtpStreamID || e.uri == SDPExtensionURI.repairedRTPStreamID
            guard isRID ? simulcast : p.headerExtensions.contains(e.uri) else { return nil }
            if e.uri == SDPExtensionURI.transportWideCC, !p.sendTransportCC { return nil }
            if e.uri == SDPExtensionURI.audioLevel, offered.kind != .audio { return nil }
            if e.uri == SDPExtensionURI.videoOrientation, offered.kind != .video { return nil }
            return SDPHeaderExtension(id: e.id, uri: e.uri, direction: e.direction?.reversed)
        }
    }

    /// A rejected m-section: port 0, the first offered format, the mid echoed (JSEP §5.3.1).
    static func rejectedSection(_ offered: MediaDescription) -> MediaDescription {
        var m = MediaDescription(
            kind: offered.kind, port: 0, proto: offered.proto, formats: Array(offered.formats.prefix(1)))
        m.mid = offered.mid
        return m
    }
}
