import Reactor

/// An ICE fragment (`application/trickle-ice-sdpfrag`, RFC 8840) as WHIP/WHEP PATCH carries it:
/// ICE credentials, and candidates per m-section identified by mid.
///
/// ```
/// a=ice-ufrag:EsAw
/// a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
/// m=audio 9 UDP/TLS/RTP/SAVPF 0
/// a=mid:0
/// a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host
/// a=end-of-candidates
/// ```
/// New credentials in a PATCH mean an ICE restart (RFC 9725 §4.3.2); comparing them is the
/// HTTP handler's job.
public struct TrickleFragment: Hashable, Sendable {
    public struct Section: Hashable, Sendable {
        /// nil for candidates that came before any m-line.
        public var mid: String?
        public var iceUfrag: String?
        public var icePassword: String?
        public var candidates: [SDPCandidate]
        public var endOfCandidates: Bool

        public init(
            mid: String?, iceUfrag: String? = nil, icePassword: String? = nil, candidates: [SDPCandidate] = [],
            endOfCandidates: Bool = false
        ) {
            self.mid = mid
            self.iceUfrag = iceUfrag
            self.icePassword = icePassword
            self.candidates = candidates
            self.endOfCandidates = endOfCandidates
        }
    }

    public var iceUfrag: String?
    public var icePassword: String?
    public var iceOptions: [String]
    public var groups: [SDPGroup]
    public var sections: [Section]

    public init(
        iceUfrag: String? = nil, icePassword: String? = nil, iceOptions: [String] = [], groups: [SDPGroup] = [],
        sections: [Section] = []
    ) {
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.iceOptions = iceOptions
        self.groups = groups
        self.sections = sections
    }

    /// The server's answer to an ICE restart PATCH (RFC 9725 §4.3.2): the new credentials and
    /// its host candidates for each bundled mid, gathering complete.
    public init(iceUfrag: String, icePassword: String, hostCandidates: [SocketAddress], mids: [String]) {
        let candidates = hostCandidates.enumerated().map { SDPCandidate(host: $0.element, index: $0.offset) }
        self.init(
            iceUfrag: iceUfrag, icePassword: icePassword,
            groups: mids.isEmpty ? [] : [SDPGroup(semantics: "BUNDLE", mids: mids)],
            sections: (mids.isEmpty ? [String?.none] : mids.map { $0 }).map {
                Section(mid: $0, candidates: candidates, endOfCandidates: true)
            })
    }

    /// Every candidate in the fragment, in order.
    public var candidates: [SDPCandidate] { sections.flatMap(\.candidates) }
    /// Whether the fragment says gathering is complete.
    public var endOfCandidates: Bool { sections.contains { $0.endOfCandidates } }
    /// The credentials of the fragment: session-level, else the first m-section's.
    public var credentials: (ufrag: String, password: String)? {
        if let u = iceUfrag, let p = icePassword { return (u, p) }
        for s in sections {
            if let u = s.iceUfrag, let p = s.icePassword { return (u, p) }
        }
        return nil
    }

    /// Parses a fragment. Lines other than `a=` and `m=` are ignored; unknown attributes too.
    public static func parse(_ text: String) throws(SDPError) -> TrickleFragment {
        let lines = try SDPParser.splitLines(text)
        var f = TrickleFragment()
        var current = Section(mid: nil)
        var inSection = false  // an m-line, mid or candidate has opened `current`
        func flush() {
            if inSection { f.sections.append(current) }
            current = Section(mid: nil)
            inSection = false
        }
        for (index, line) in lines.enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            let (type, value) = try SDPParser.splitLine(line, number)
            if type == "m" {
                flush()
                guard f.sections.count < SDPLimits.maxMediaSections else {
                    throw .tooLarge("more than \(SDPLimits.maxMediaSections) m-lines")
                }
                inSection = true
                continue
            }
            guard type == "a" else { continue }
            let (name, attr) = try SDPParser.splitAttribute(value, line: number)
            switch name {
            case "ice-ufrag":
                let u = try SDPParser.parseCredential(attr, "ice-ufrag", line: number)
                if inSection { current.iceUfrag = u } else { f.iceUfrag = u }
            case "ice-pwd":
                let p = try SDPParser.parseCredential(attr, "ice-pwd", line: number)
                if inSection { current.icePassword = p } else { f.icePassword = p }
            case "ice-options":
                f.iceOptions = SDPParser.parseOptions(attr)
            case "group":
                f.groups.append(try SDPParser.parseGroup(attr, line: number))
            case "mid":
                guard let attr, SDPParser.isMid(attr) else {
                    throw .malformed(line: number, reason: "mid must be a token of 1-64 characters")
                }
                inSection = true
                current.mid = String(attr)
            case "end-of-candidates":
                inSection = true
                current.endOfCandidates = true
            case "candidate":
                inSection = true
                guard current.candidates.count < SDPLimits.maxCandidatesPerMedia else {
                    throw .tooLarge("more than \(SDPLimits.maxCandidatesPerMedia) candidates in one m-section")
                }
                switch SDPCandidate.parse(attr ?? "") {
                case .success(let c): current.candidates.append(c)
                case .failure(let e): throw .malformed(line: number, reason: e.reason)
                }
            default:
                break
            }
        }
        flush()
        return f
    }

    /// The fragment as text (CRLF), for the client role's PATCH; each section gets a dummy
    /// m-line as RFC 8840 §5.2 writes it.
    public var text: String {
        var out = ""
        func line(_ s: String) { out += s + "\r\n" }
        if let u = iceUfrag { line("a=ice-ufrag:\(u)") }
        if let p = icePassword { line("a=ice-pwd:\(p)") }
        if !iceOptions.isEmpty { line("a=ice-options:" + iceOptions.joined(separator: " ")) }
        for g in groups { line("a=group:" + ([g.semantics] + g.mids).joined(separator: " ")) }
        for s in sections {
            line("m=audio 9 UDP/TLS/RTP/SAVPF 0")
            if let mid = s.mid { line("a=mid:\(mid)") }
            if let u = s.iceUfrag { line("a=ice-ufrag:\(u)") }
            if let p = s.icePassword { line("a=ice-pwd:\(p)") }
            for c in s.candidates { line("a=candidate:" + c.attributeValue) }
            if s.endOfCandidates { line("a=end-of-candidates") }
        }
        return out
    }
}
