/// Collects the lines of one m-section while parsing; `finish()` assembles the codecs in m-line
/// order once every rtpmap, fmtp and rtcp-fb line has been seen (they may come in any order).
struct MediaBuilder {
    let line: Int
    private var media: MediaDescription
    private let isRTP: Bool
    private var payloadTypes: Set<UInt8> = []
    private var rtpmaps: [UInt8: (name: String, clock: UInt32, channels: UInt16?)] = [:]
    private var fmtps: [UInt8: [SDPCodec.Parameter]] = [:]
    private var feedback: [UInt8: [SDPCodec.Feedback]] = [:]
    private var sawDirection = false
    private var sawMid = false

    init(mLine value: Substring, line: Int) throws(SDPError) {
        self.line = line
        let f = SDPSyntax.fields(value)
        guard f.count >= 4 else {
            throw .malformed(line: line, reason: "m= needs <media> <port> <proto> <format>…")
        }
        guard SDPSyntax.isToken(f[0]) else { throw .malformed(line: line, reason: "bad media type") }
        var media = MediaDescription(kind: MediaKind(token: String(f[0])))
        let portField = SDPSyntax.split(f[1], UInt8(ascii: "/"), omittingEmpty: false)
        guard portField.count <= 2 else { throw .malformed(line: line, reason: "bad port") }
        media.port = try SDPParser.number(portField[0], 0...65535, "port", line: line)
        if portField.count == 2 {
            media.portCount = try SDPParser.number(portField[1], 1...65535, "port count", line: line)
        }
        guard f[2].utf8.count <= 64, f[2].utf8.allSatisfy(SDPSyntax.isVisible) else {
            throw .malformed(line: line, reason: "bad proto")
        }
        media.proto = String(f[2])
        let formats = f[3...]
        guard formats.count <= SDPLimits.maxFormatsPerMedia else {
            throw .tooLarge("more than \(SDPLimits.maxFormatsPerMedia) formats on the m-line at line \(line)")
        }
        isRTP = media.proto.uppercased().contains("RTP/")
        for format in formats {
            if isRTP {
                let pt: UInt8 = try SDPParser.number(format, 0...127, "payload type", line: line)
                guard payloadTypes.insert(pt).inserted else {
                    throw .malformed(line: line, reason: "payload type \(pt) listed twice")
                }
            } else {
                guard SDPSyntax.isAddressToken(format) else {
                    throw .malformed(line: line, reason: "bad format")
                }
            }
            media.formats.append(String(format))
        }
        self.media = media
    }

    mutating func apply(type: Character, value: Substring, line: Int) throws(SDPError) {
        switch type {
        case "c": media.connection = try SDPParser.parseConnection(value, line: line)
        case "b": media.bandwidths.append(String(value))
        case "a": try applyAttribute(value, line: line)
        default: break  // i=, k= and unknown: unused.
        }
    }

    private mutating func applyAttribute(_ raw: Substring, line: Int) throws(SDPError) {
        let (name, value) = try SDPParser.splitAttribute(raw, line: line)
        switch name {
        case "mid":
            guard !sawMid else { throw .malformed(line: line, reason: "second a=mid in one m-section") }
            guard let value, SDPParser.isMid(value) else {
                throw .malformed(line: line, reason: "mid must be a token of 1-64 characters")
            }
            media.mid = String(value)
            sawMid = true
        case "sendrecv", "sendonly", "recvonly", "inactive":
            guard !sawDirection else {
                throw .malformed(line: line, reason: "more than one direction attribute")
            }
            media.direction = MediaDirection(rawValue: String(name))
            sawDirection = true
        case "ice-ufrag":
            media.iceUfrag = try SDPParser.parseCredential(value, "ice-ufrag", line: line)
        case "ice-pwd":
            media.icePassword = try SDPParser.parseCredential(value, "ice-pwd", line: line)
        case "ice-options":
            media.iceOptions = SDPParser.parseOptions(value)
        case "fingerprint":
            media.fingerprints.append(try SDPParser.parseFingerprint(value, line: line))
        case "setup":
            media.setup = try SDPParser.parseSetup(value, line: line)
        case "rtcp-mux":
            media.rtcpMux = true
        case "rtcp-rsize":
            media.rtcpReducedSize = true
        case "rtcp":
            media.rtcp = value.map(String.init)
        case "bundle-only":
            media.bundleOnly = true
        case "extmap-allow-mixed":
            media.extmapAllowMixed = true
        case "end-of-candidates":
            media.endOfCandidates = true
        case "candidate":
            guard media.candidates.count < SDPLimits.maxCandidatesPerMedia else {
                throw .tooLarge("more than \(SDPLimits.maxCandidatesPerMedia) candidates in one m-section")
            }
            switch SDPCandidate.parse(value ?? "") {
            case .success(let c): media.candidates.append(c)
            case .failure(let e): throw .malformed(line: line, reason: e.reason)
            }
        case "rtpmap" where isRTP:
            try parseRTPMap(value ?? "", line: line)
        case "fmtp" where isRTP:
            try parseFMTP(value ?? "", line: line)
        case "rtcp-fb" where isRTP:
            try parseFeedback(value ?? "", line: line)
        case "extmap":
            try parseExtmap(value ?? "", line: line)
        case "msid":
            guard let value, let msid = SDPMediaStreamID(attributeValue: value) else {
                throw .malformed(line: line, reason: "msid must be <stream id> [<track id>]")
            }
            media.msids.append(msid)
        case "ssrc":
            try parseSSRC(value ?? "", line: line)
        case "ssrc-group":
            try parseSSRCGroup(value ?? "", line: line)
        default:
            media.otherAttributes.append(SDPAttribute(String(name), value.map(String.init)))
        }
    }

    /// `<pt> <pt-rest>`: the payload type and what follows one space.
    private func splitPayloadType(_ value: Substring, _ what: String, line: Int) throws(SDPError)
        -> (pt: UInt8, rest: Substring)
    {
        guard let space = SDPSyntax.firstIndex(of: SDPSyntax.space, in: value) else {
            throw .malformed(line: line, reason: "\(what) needs <payload type> <value>")
        }
        let pt: UInt8 = try SDPParser.number(value[..<space], 0...127, "payload type", line: line)
        return (pt, value[value.utf8.index(after: space)...].trimmingSpaces)
    }

    private mutating func parseRTPMap(_ value: Substring, line: Int) throws(SDPError) {
        let (pt, rest) = try splitPayloadType(value, "rtpmap", line: line)
        let f = SDPSyntax.split(rest, UInt8(ascii: "/"), omittingEmpty: false)
        guard f.count == 2 || f.count == 3, SDPSyntax.isToken(f[0]), f[0].utf8.count <= 64 else {
            throw .malformed(line: line, reason: "rtpmap must be <pt> <encoding>/<clock rate>[/<channels>]")
        }
        let clock: UInt32 = try SDPParser.number(f[1], 1...UInt32.max, "clock rate", line: line)
        var channels: UInt16?
        if f.count == 3 { channels = try SDPParser.number(f[2], 1...255, "channels", line: line) }
        guard rtpmaps[pt] == nil else {
            throw .malformed(line: line, reason: "second rtpmap for payload type \(pt)")
        }
        // An rtpmap for a payload type absent from the m-line is ignored (RFC 8866 §6.6).
        guard payloadTypes.contains(pt) else { return }
        rtpmaps[pt] = (String(f[0]), clock, channels)
    }

    private mutating func parseFMTP(_ value: Substring, line: Int) throws(SDPError) {
        let (pt, rest) = try splitPayloadType(value, "fmtp", line: line)
        guard fmtps[pt] == nil else {
            throw .malformed(line: line, reason: "second fmtp for payload type \(pt)")
        }
        fmtps[pt] = SDPCodec.parseParameters(rest)
    }

    private mutating func parseFeedback(_ value: Substring, line: Int) throws(SDPError) {
        let f = SDPSyntax.fields(value, maxSplits: 2)
        guard f.count >= 2, SDPSyntax.isToken(f[1]) else {
            throw .malformed(line: line, reason: "rtcp-fb must be <pt|*> <type> [<parameter>]")
        }
        let fb = SDPCodec.Feedback(String(f[1]), f.count == 3 ? String(f[2].trimmingSpaces) : nil)
        if f[0] == "*" {
            if !media.wildcardFeedback.contains(fb) { media.wildcardFeedback.append(fb) }
            return
        }
        let pt: UInt8 = try SDPParser.number(f[0], 0...127, "payload type", line: line)
        if !(feedback[pt, default: []].contains(fb)) { feedback[pt, default: []].append(fb) }
    }

    private mutating func parseExtmap(_ value: Substring, line: Int) throws(SDPError) {
        let f = SDPSyntax.fields(value, maxSplits: 2)
        guard f.count >= 2 else { throw .malformed(line: line, reason: "extmap must be <id>[/<direction>] <uri>") }
        let idField = SDPSyntax.split(f[0], UInt8(ascii: "/"), omittingEmpty: false)
        guard idField.count <= 2 else { throw .malformed(line: line, reason: "bad extmap id") }
        let id: UInt8 = try SDPParser.number(idField[0], 1...255, "extmap id", line: line)
        var direction: MediaDirection?
        if idField.count == 2 {
            guard let d = MediaDirection(rawValue: String(idField[1])) else {
                throw .malformed(line: line, reason: "bad extmap direction")
            }
            direction = d
        }
        guard f[1].utf8.count <= 256, f[1].utf8.allSatisfy(SDPSyntax.isVisible) else {
            throw .malformed(line: line, reason: "bad extmap URI")
        }
        let ext = SDPHeaderExtension(
            id: id, uri: String(f[1]), direction: direction,
            attributes: f.count == 3 ? String(f[2].trimmingSpaces) : nil)
        if let existing = media.headerExtensions.first(where: { $0.id == id }) {
            guard existing.uri == ext.uri else {
                throw .malformed(line: line, reason: "extmap id \(id) used for two URIs")
            }
            return
        }
        media.headerExtensions.append(ext)
    }

    private mutating func parseSSRC(_ value: Substring, line: Int) throws(SDPError) {
        let f = SDPSyntax.fields(value, maxSplits: 1)
        guard f.count == 2 else { throw .malformed(line: line, reason: "ssrc must be <ssrc> <attribute>[:<value>]") }
        let ssrc: UInt32 = try SDPParser.number(f[0], 0...UInt32.max, "ssrc", line: line)
        let attribute: SDPSSRC.Attribute
        if let colon = SDPSyntax.firstIndex(of: UInt8(ascii: ":"), in: f[1]) {
            attribute = .init(String(f[1][..<colon]), String(f[1][f[1].utf8.index(after: colon)...]))
        } else {
            attribute = .init(String(f[1]), nil)
        }
        guard SDPSyntax.isToken(Substring(attribute.name)) else {
            throw .malformed(line: line, reason: "bad ssrc attribute name")
        }
        if let i = media.ssrcs.firstIndex(where: { $0.ssrc == ssrc }) {
            media.ssrcs[i].attributes.append(attribute)
        } else {
            media.ssrcs.append(SDPSSRC(ssrc: ssrc, attributes: [attribute]))
        }
    }

    private mutating func parseSSRCGroup(_ value: Substring, line: Int) throws(SDPError) {
        let f = SDPSyntax.fields(value)
        guard f.count >= 2, SDPSyntax.isToken(f[0]) else {
            throw .malformed(line: line, reason: "ssrc-group must be <semantics> <ssrc>…")
        }
        var ssrcs: [UInt32] = []
        for s in f.dropFirst() {
            ssrcs.append(try SDPParser.number(s, 0...UInt32.max, "ssrc", line: line))
        }
        media.ssrcGroups.append(SDPSSRCGroup(semantics: String(f[0]), ssrcs: ssrcs))
    }

    func finish() throws(SDPError) -> MediaDescription {
        var m = media
        guard isRTP else { return m }
        for format in m.formats {
            guard let pt = UInt8(format), let map = rtpmaps[pt] else { continue }
            m.codecs.append(
                SDPCodec(
                    payloadType: pt, encodingName: map.name, clockRate: map.clock,
                    channels: map.channels, parameters: fmtps[pt] ?? [], feedback: feedback[pt] ?? []))
        }
        return m
    }
}
