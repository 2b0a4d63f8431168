import Reactor

/// What the load generator needs from a server's SDP answer: ICE credentials, the DTLS
/// fingerprint and setup role, the first usable UDP candidate, and per media kind the
/// payload type, the MID extension id and the server's SSRC. Tolerant of anything else.
public struct AnswerInfo: Sendable, Equatable {
    public struct Media: Sendable, Equatable {
        public var kind: String
        public var mid: String = ""
        public var payloadType: UInt8? = nil
        public var midExtensionID: UInt8 = 0
        /// The RID extension's id (0: not answered), and the `a=simulcast` value if any.
        public var ridExtensionID: UInt8 = 0
        public var simulcast: String? = nil
        public var ssrc: UInt32? = nil
        public var rejected = false
    }

    public var iceUfrag = ""
    public var icePassword = ""
    public var iceLite = false
    public var fingerprintAlgorithm = ""
    public var fingerprintValue = ""
    /// `active`: the server will be the DTLS client, so the load generator is the server.
    public var setup = "passive"
    public var candidate: SocketAddress? = nil
    public var media: [Media] = []

    public enum Failure: Error, CustomStringConvertible, Sendable, Equatable {
        case missing(String)
        public var description: String {
            switch self { case .missing(let what): "SDP answer has no \(what)" }
        }
    }

    public var video: Media? { media.first { $0.kind == "video" && !$0.rejected } }
    public var audio: Media? { media.first { $0.kind == "audio" && !$0.rejected } }

    public init(parsing sdp: String) throws(Failure) {
        var current: Media? = nil
        var candidates: [(prio: UInt64, addr: SocketAddress)] = []
        for raw in sdp.split(whereSeparator: { $0.isNewline }) {
            let line = Substring(raw)
            if line.hasPrefix("m=") {
                if let c = current { media.append(c) }
                let parts = line.dropFirst(2).split(separator: " ")
                var m = Media(kind: parts.first.map(String.init) ?? "")
                m.rejected = parts.count > 1 && parts[1] == "0"
                current = m
                continue
            }
            guard line.hasPrefix("a=") else { continue }
            let attr = line.dropFirst(2)
            let (name, value) = Self.split(attr)
            switch name {
            case "ice-ufrag": if iceUfrag.isEmpty { iceUfrag = String(value) }
            case "ice-pwd": if icePassword.isEmpty { icePassword = String(value) }
            case "ice-lite": iceLite = true
            case "fingerprint":
                if fingerprintValue.isEmpty {
                    let p = value.split(separator: " ")
                    if p.count == 2 {
                        fingerprintAlgorithm = String(p[0]).lowercased()
                        fingerprintValue = String(p[1])
                    }
                }
            case "setup": setup = String(value)
            case "mid": current?.mid = String(value)
            case "rtpmap":
                let p = value.split(separator: " ")
                if p.count == 2, let pt = UInt8(p[0]) {
                    let codec = p[1].split(separator: "/").first?.lowercased() ?? ""
                    if (codec == "vp8" || codec == "opus"), current?.payloadType == nil { current?.payloadType = pt }
                }
            case "extmap":
                let p = value.split(separator: " ")
                if p.count >= 2, let id = UInt8(p[0].split(separator: "/").first ?? "") {
                    if p[1] == "urn:ietf:params:rtp-hdrext:sdes:mid" { current?.midExtensionID = id }
                    if p[1] == "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" { current?.ridExtensionID = id }
                }
            case "simulcast": current?.simulcast = String(value)
            case "ssrc":
                if current?.ssrc == nil, let s = value.split(separator: " ").first, let v = UInt32(s) { current?.ssrc = v }
            case "candidate":
                // foundation component transport priority ip port typ type ...
                let p = value.split(separator: " ")
                if p.count >= 8, p[1] == "1", p[2].lowercased() == "udp", let prio = UInt64(p[3]),
                   let port = UInt16(p[5]), let addr = SocketAddress(ip: String(p[4]), port: port), !addr.isIPv6 {
                    candidates.append((prio, addr))
                }
            default: break
            }
        }
        if let c = current { media.append(c) }
        candidate = candidates.max { $0.prio < $1.prio }?.addr
        guard !iceUfrag.isEmpty, !icePassword.isEmpty else { throw .missing("ICE credentials") }
        guard !fingerprintValue.isEmpty else { throw .missing("DTLS fingerprint") }
        guard candidate != nil else { throw .missing("IPv4 UDP candidate") }
    }

    static func split(_ attr: Substring) -> (Substring, Substring) {
        guard let c = attr.firstIndex(of: ":") else { return (attr, "") }
        return (attr[..<c], attr[attr.index(after: c)...])
    }
}
