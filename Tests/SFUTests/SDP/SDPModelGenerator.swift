import PropertyBased

@testable import SFU

/// Random `SessionDescription`s within what SDP can express, for round-trip properties:
/// tokens where the grammar wants tokens, unique mids/payload types/ids/ssrcs, codecs in
/// m-line order, unknown attributes under an `x-` prefix.
enum SDPModelGenerator {
    typealias RNG = any SeededRandomNumberGenerator

    static var session: Generator<SessionDescription, Shrink.None<SessionDescription>> {
        Generator(run: { rng in makeSession(&rng) })
    }

    /// Offers that look like browsers': secure RTP audio/video with usable codecs most of the
    /// time, sometimes broken in ways the answerer must reject cleanly.
    static var offerLike: Generator<SessionDescription, Shrink.None<SessionDescription>> {
        Generator(run: { rng in makeOfferLike(&rng) })
    }

    static func int(_ r: ClosedRange<Int>, _ rng: inout RNG) -> Int { Int.random(in: r, using: &rng) }
    static func chance(_ p: Double, _ rng: inout RNG) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    static func pick<T>(_ xs: [T], _ rng: inout RNG) -> T { xs[int(0...(xs.count - 1), &rng)] }

    static let tokenChars = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~")
    static let iceChars = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
    static let printable = Array("abc XYZ 019 :;=/-_.,*@!()[]{}<>\"'?")

    static func string(_ chars: [Character], _ len: ClosedRange<Int>, _ rng: inout RNG) -> String {
        String((0..<int(len, &rng)).map { _ in pick(chars, &rng) })
    }
    static func token(_ rng: inout RNG, _ len: ClosedRange<Int> = 1...12) -> String { string(tokenChars, len, &rng) }
    /// Printable text without leading/trailing spaces (values the parser trims).
    static func text(_ rng: inout RNG) -> String {
        var s = string(printable, 0...20, &rng)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
    static func ipv4(_ rng: inout RNG) -> String {
        (0..<4).map { _ in String(int(0...255, &rng)) }.joined(separator: ".")
    }
    static func digits(_ rng: inout RNG) -> String { String(UInt64.random(in: 0...UInt64.max, using: &rng)) }
    static func hexFingerprint(_ rng: inout RNG) -> String {
        (0..<32).map { _ in
            let b = UInt8.random(in: 0...255, using: &rng)
            let h = String(b, radix: 16, uppercase: true)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: ":")
    }

    static func makeSession(_ rng: inout RNG) -> SessionDescription {
        var d = SessionDescription(
            origin: .init(
                username: token(&rng), sessionID: digits(&rng), sessionVersion: digits(&rng),
                address: "IN IP4 \(ipv4(&rng))"))
        d.sessionName = chance(0.8, &rng) ? "-" : text(&rng)
        d.timing = "0 0"
        if chance(0.3, &rng) { d.connection = "IN IP4 \(ipv4(&rng))" }
        if chance(0.2, &rng) { d.bandwidths = ["AS:\(int(1...100000, &rng))"] }
        d.iceLite = chance(0.3, &rng)
        if chance(0.5, &rng) { d.iceUfrag = string(iceChars, 4...32, &rng) }
        if chance(0.5, &rng) { d.icePassword = string(iceChars, 22...40, &rng) }
        if chance(0.3, &rng) { d.iceOptions = ["trickle"] }
        if chance(0.4, &rng) { d.fingerprints = [SDPFingerprint(algorithm: "sha-256", value: hexFingerprint(&rng))] }
        if chance(0.4, &rng) { d.setup = pick(SDPSetupRole.allCases, &rng) }
        d.extmapAllowMixed = chance(0.5, &rng)
        if chance(0.5, &rng) { d.msidSemantic = pick([" WMS *", "WMS", " WMS abc"], &rng) }
        for _ in 0..<int(0...2, &rng) {
            d.otherAttributes.append(SDPAttribute("x-" + token(&rng), chance(0.7, &rng) ? text(&rng) : nil))
        }
        var mids = Set<String>()
        for i in 0..<int(0...5, &rng) {
            var mid: String?
            if chance(0.9, &rng) {
                let m = chance(0.7, &rng) ? String(i) : token(&rng)
                if mids.insert(m).inserted { mid = m }
            }
            d.media.append(makeMedia(mid: mid, &rng))
        }
        if chance(0.8, &rng) { d.groups = [SDPGroup(semantics: "BUNDLE", mids: d.media.compactMap(\.mid))] }
        return d
    }

    static func makeCodec(_ pt: UInt8, _ rng: inout RNG) -> SDPCodec {
        let names: [(String, UInt32, UInt16?)] = [
            ("opus", 48000, 2), ("VP8", 90000, nil), ("VP9", 90000, nil), ("H264", 90000, nil), ("AV1", 90000, nil),
            ("rtx", 90000, nil), ("PCMU", 8000, nil), ("red", 48000, 2),
            (token(&rng), UInt32(int(1...200000, &rng)), chance(0.3, &rng) ? UInt16(int(1...8, &rng)) : nil),
        ]
        let (name, clock, channels) = pick(names, &rng)
        var c = SDPCodec(payloadType: pt, encodingName: name, clockRate: clock, channels: channels)
        var keys = Set<String>()
        for _ in 0..<int(0...3, &rng) {
            let key = pick(["apt", "packetization-mode", "profile-level-id", "profile-id", token(&rng)], &rng)
            guard keys.insert(key).inserted else { continue }
            let value = pick(["1", "0", "42e01f", "96", "x=y", token(&rng)], &rng)
            c.parameters.append(.init(key, chance(0.85, &rng) ? value : nil))
        }
        for fb in [SDPCodec.Feedback.nack, .nackPLI, .ccmFIR, .remb, .transportCC, .init(token(&rng), "a b")]
        where chance(0.4, &rng) {
            if !c.feedback.contains(fb) { c.feedback.append(fb) }
        }
        return c
    }

    static func makeCandidate(_ rng: inout RNG) -> SDPCandidate {
        var c = SDPCandidate(
            foundation: string(iceChars, 1...32, &rng), component: UInt16(int(1...256, &rng)),
            transport: pick(["udp", "tcp"], &rng), priority: UInt32.random(in: 1...UInt32.max, using: &rng),
            address: chance(0.8, &rng) ? ipv4(&rng) : token(&rng) + ".local",
            port: UInt16.random(in: 0...UInt16.max, using: &rng),
            type: pick(["host", "srflx", "prflx", "relay"], &rng))
        if chance(0.3, &rng) { c.relatedAddress = ipv4(&rng) }
        if chance(0.3, &rng) { c.relatedPort = UInt16.random(in: 0...UInt16.max, using: &rng) }
        for _ in 0..<int(0...3, &rng) {
            c.extensions.append(
                .init(
                    name: pick(["generation", "network-id", "network-cost", "ufrag", "tcptype"], &rng),
                    value: token(&rng)))
        }
        return c
    }

    static func makeMedia(mid: String?, _ rng: inout RNG) -> MediaDescription {
        let kind = pick([MediaKind.audio, .video, .application, .other("text")], &rng)
        let rtp = kind != .application && chance(0.9, &rng)
        var m = MediaDescription(
            kind: kind, port: UInt16.random(in: 0...UInt16.max, using: &rng),
            proto: rtp ? pick(["UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/AVP"], &rng) : "UDP/DTLS/SCTP")
        if chance(0.1, &rng) { m.portCount = UInt16(int(1...4, &rng)) }
        if rtp {
            var pts: [UInt8] = []
            for _ in 0..<int(1...12, &rng) {
                let pt = UInt8(int(0...127, &rng))
                if !pts.contains(pt) { pts.append(pt) }
            }
            m.formats = pts.map(String.init)
            m.codecs = pts.filter { _ in chance(0.8, &rng) }.map { makeCodec($0, &rng) }
            for fb in [SDPCodec.Feedback.nack, .transportCC] where chance(0.1, &rng) { m.wildcardFeedback.append(fb) }
        } else {
            m.formats = chance(0.7, &rng) ? ["webrtc-datachannel"] : [token(&rng), token(&rng)].sdpUniqued
        }
        if chance(0.7, &rng) { m.connection = "IN IP4 \(ipv4(&rng))" }
        if chance(0.1, &rng) { m.bandwidths = ["TIAS:\(int(1...10_000_000, &rng))"] }
        m.mid = mid
        if chance(0.8, &rng) { m.direction = pick(MediaDirection.allCases, &rng) }
        if chance(0.7, &rng) { m.iceUfrag = string(iceChars, 4...32, &rng) }
        if chance(0.7, &rng) { m.icePassword = string(iceChars, 22...40, &rng) }
        if chance(0.5, &rng) { m.iceOptions = ["trickle"] }
        for alg in ["sha-256", "sha-384"] where chance(0.5, &rng) {
            m.fingerprints.append(SDPFingerprint(algorithm: alg, value: hexFingerprint(&rng)))
        }
        if chance(0.7, &rng) { m.setup = pick(SDPSetupRole.allCases, &rng) }
        m.rtcpMux = chance(0.85, &rng)
        m.rtcpReducedSize = chance(0.5, &rng)
        if chance(0.3, &rng) { m.rtcp = "9 IN IP4 0.0.0.0" }
        m.bundleOnly = chance(0.05, &rng)
        m.candidates = (0..<int(0...3, &rng)).map { _ in makeCandidate(&rng) }
        m.endOfCandidates = chance(0.5, &rng)
        let uris = [
            SDPExtensionURI.mid, SDPExtensionURI.absSendTime, SDPExtensionURI.audioLevel,
            SDPExtensionURI.transportWideCC,
            SDPExtensionURI.videoOrientation, "urn:x-" + token(&rng),
        ]
        var ids = Set<UInt8>()
        for uri in uris where chance(0.5, &rng) {
            let id = UInt8(int(1...255, &rng))
            guard ids.insert(id).inserted else { continue }
            m.headerExtensions.append(
                SDPHeaderExtension(
                    id: id, uri: uri, direction: chance(0.1, &rng) ? pick(MediaDirection.allCases, &rng) : nil,
                    attributes: chance(0.1, &rng) ? token(&rng) : nil))
        }
        m.extmapAllowMixed = chance(0.3, &rng)
        if chance(0.6, &rng) {
            m.msids = [SDPMediaStreamID(stream: token(&rng), track: chance(0.8, &rng) ? token(&rng) : nil)]
        }
        var ssrcs: [UInt32] = []
        for _ in 0..<int(0...3, &rng) {
            let s = UInt32.random(in: 0...UInt32.max, using: &rng)
            if !ssrcs.contains(s) { ssrcs.append(s) }
        }
        m.ssrcs = ssrcs.map { s in
            SDPSSRC(
                ssrc: s,
                attributes: (0..<int(1...3, &rng)).map { _ in
                    SDPSSRC.Attribute(
                        pick(["cname", "msid", "label", token(&rng)], &rng), chance(0.9, &rng) ? text(&rng) : nil)
                })
        }
        if ssrcs.count >= 2, chance(0.7, &rng) {
            m.ssrcGroups = [SDPSSRCGroup(semantics: "FID", ssrcs: Array(ssrcs.prefix(2)))]
        }
        for _ in 0..<int(0...2, &rng) {
            m.otherAttributes.append(SDPAttribute("x-" + token(&rng), chance(0.7, &rng) ? text(&rng) : nil))
        }
        return m
    }

    static func makeOfferLike(_ rng: inout RNG) -> SessionDescription {
        var d = makeSession(&rng)
        for i in d.media.indices where chance(0.7, &rng) {
            var m = d.media[i]
            m.kind = pick([.audio, .video], &rng)
            m.proto = "UDP/TLS/RTP/SAVPF"
            m.port = chance(0.9, &rng) ? 9 : 0
            var pts = m.formats.compactMap(UInt8.init)
            let base = pick([SDPCodec.Name.opus, .vp8, .vp9, .h264, .av1], &rng)
            if !pts.contains(100), !pts.contains(101) {
                var c = SDPCodec(
                    payloadType: 100, encodingName: base.encodingName, clockRate: base.clockRate,
                    channels: base.channels)
                if base == .h264 {
                    c.parameters = [
                        .init("packetization-mode", pick(["0", "1"], &rng)),
                        .init("profile-level-id", pick(["42e01f", "4d001f", "zz"], &rng)),
                    ]
                }
                c.feedback = [.nack, .nackPLI, .transportCC]
                m.codecs.insert(c, at: 0)
                m.codecs.insert(
                    SDPCodec(
                        payloadType: 101, encodingName: "rtx", clockRate: 90000, parameters: [.init("apt", "100")]),
                    at: 1)
                pts.insert(contentsOf: [100, 101], at: 0)
            }
            m.formats = pts.map(String.init)
            m.setup = chance(0.9, &rng) ? .actpass : m.setup
            d.media[i] = m
        }
        return d
    }
}

extension Array where Element: Hashable {
    var sdpUniqued: [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
