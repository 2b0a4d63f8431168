/// What the client role learns from the server's answer: where and how to connect, and the
/// payload types and extension ids to use per m-line.
public struct ClientNegotiation: Hashable, Sendable {
    public var iceUfrag: String
    public var icePassword: String
    /// The server is ICE-lite: the client is the controlling agent and nominates.
    public var iceLite: Bool
    public var fingerprints: [SDPFingerprint]
    /// The server's DTLS role; the client takes the other one (`active` against `passive`).
    public var serverSetup: SDPSetupRole
    public var candidates: [SDPCandidate]
    public var bundleMids: [String]
    /// Accepted m-lines from the client's point of view: `direction` is the client's,
    /// `local…` SSRCs are the client's tracks, `remote…` the server's announced streams.
    public var media: [NegotiatedMedia]
    /// Mids the server rejected (port 0).
    public var rejectedMids: [String]
}

/// Reads the server's answer to a `ClientOffer` (JSEP §5.10 as the offerer).
public enum AnswerReader {
    public static func read(_ text: String, offer: ClientOffer) throws(SDPError) -> ClientNegotiation {
        let answer = try SDPParser.parse(text)
        guard answer.media.count == offer.session.media.count else {
            throw .unsupported("the answer has \(answer.media.count) m-lines for \(offer.session.media.count) offered")
        }
        var media: [NegotiatedMedia] = []
        var rejected: [String] = []
        for (i, (m, o)) in zip(answer.media, offer.session.media).enumerated() {
            guard m.mid == o.mid, let mid = o.mid else {
                throw .unsupported("answer m-line \(i) has mid \(m.mid ?? "none"), offered \(o.mid ?? "none")")
            }
            guard m.kind == o.kind else { throw .unsupported("answer m-line \(i) changed the media type") }
            if m.port == 0 && !m.bundleOnly {
                rejected.append(mid)
                continue
            }
            guard m.rtcpMux else { throw .unsupported("answer m-line \(i) has no a=rtcp-mux") }
            // The answer's first format is the codec the server will send / expects.
            guard let codec = m.codecs.first(where: { !$0.isRTX }), let name = codec.name,
                let offered = o.codec(payloadType: codec.payloadType), offered.name == name
            else {
                throw .unsupported("answer m-line \(i) has no codec from the offer")
            }
            let rtx = m.rtxCodec(for: codec.payloadType)
            let direction = m.effectiveDirection.reversed
            let track = offer.tracks.indices.contains(i) ? offer.tracks[i] : nil
            let remote = m.primarySSRCs
            media.append(
                NegotiatedMedia(
                    mid: mid, index: i, kind: m.kind, direction: direction, codec: codec, codecName: name,
                    rtxPayloadType: rtx?.payloadType, extensions: NegotiatedExtensions(m.headerExtensions),
                    feedback: NegotiatedFeedback(m.feedback(for: codec)), rtcpReducedSize: m.rtcpReducedSize,
                    remoteSSRC: remote?.media, remoteRTXSSRC: remote?.rtx, remoteMSID: m.msids.first,
                    trackID: direction.sends ? track?.trackID : nil, localSSRC: direction.sends ? track?.ssrc : nil,
                    localRTXSSRC: direction.sends && rtx != nil ? track?.rtxSSRC : nil))
        }
        guard let first = media.first,
            let tagged = answer.media.first(where: { $0.mid == (answer.bundleMids.first ?? first.mid) })
        else {
            throw .noUsableMedia("the server rejected every m-line")
        }
        guard let ice = answer.iceCredentials(of: tagged) else { throw .missing("no ICE credentials in the answer") }
        let fingerprints = answer.fingerprints(of: tagged)
        guard !fingerprints.isEmpty else { throw .missing("no a=fingerprint in the answer") }
        let setup = answer.setup(of: tagged) ?? .active
        guard setup == .active || setup == .passive else {
            throw .unsupported("answer a=setup:\(setup.rawValue); an answer must be active or passive")
        }
        return ClientNegotiation(
            iceUfrag: ice.ufrag, icePassword: ice.password, iceLite: answer.iceLite, fingerprints: fingerprints,
            serverSetup: setup, candidates: uniqueCandidates(answer), bundleMids: answer.bundleMids, media: media,
            rejectedMids: rejected)
    }

    /// Candidates of every m-line, once each (bundled m-lines repeat them).
    static func uniqueCandidates(_ d: SessionDescription) -> [SDPCandidate] {
        var out: [SDPCandidate] = []
        for c in d.media.flatMap(\.candidates)
        where !out.contains(where: { $0.address == c.address && $0.port == c.port && $0.transport == c.transport }) {
            out.append(c)
        }
        return out
    }
}
