/// Serializes a `SessionDescription` to SDP text with CRLF line endings, in the attribute order
/// browsers write (transport, then mid/extmap/direction/msid, then codecs, ssrcs, candidates),
/// so `SDPParser.parse(SDPWriter.write(d)) == d` for every description the parser can produce.
public enum SDPWriter {
    public static func write(_ d: SessionDescription) -> String {
        var out = ""
        out.reserveCapacity(1024 + d.media.count * 1024)
        func line(_ s: String) {
            out += s
            out += "\r\n"
        }
        let o = d.origin
        line("v=0")
        line("o=\(o.username) \(o.sessionID) \(o.sessionVersion) \(o.address)")
        line("s=\(d.sessionName)")
        if let c = d.connection { line("c=\(c)") }
        for b in d.bandwidths { line("b=\(b)") }
        line("t=\(d.timing)")
        if d.iceLite { line("a=ice-lite") }
        for g in d.groups { line("a=group:" + ([g.semantics] + g.mids).joined(separator: " ")) }
        if d.extmapAllowMixed { line("a=extmap-allow-mixed") }
        if let m = d.msidSemantic { line("a=msid-semantic:\(m)") }
        if let u = d.iceUfrag { line("a=ice-ufrag:\(u)") }
        if let p = d.icePassword { line("a=ice-pwd:\(p)") }
        if !d.iceOptions.isEmpty { line("a=ice-options:" + d.iceOptions.joined(separator: " ")) }
        for f in d.fingerprints { line("a=fingerprint:\(f)") }
        if let s = d.setup { line("a=setup:\(s.rawValue)") }
        for a in d.otherAttributes { line(a.line) }

        for m in d.media {
            var port = String(m.port)
            if let n = m.portCount { port += "/\(n)" }
            line("m=\(m.kind) \(port) \(m.proto) " + m.formats.joined(separator: " "))
            if let c = m.connection { line("c=\(c)") }
            for b in m.bandwidths { line("b=\(b)") }
            if let r = m.rtcp { line("a=rtcp:\(r)") }
            if let u = m.iceUfrag { line("a=ice-ufrag:\(u)") }
            if let p = m.icePassword { line("a=ice-pwd:\(p)") }
            if !m.iceOptions.isEmpty { line("a=ice-options:" + m.iceOptions.joined(separator: " ")) }
            for f in m.fingerprints { line("a=fingerprint:\(f)") }
            if let s = m.setup { line("a=setup:\(s.rawValue)") }
            if let mid = m.mid { line("a=mid:\(mid)") }
            if m.bundleOnly { line("a=bundle-only") }
            if m.extmapAllowMixed { line("a=extmap-allow-mixed") }
            for e in m.headerExtensions { line("a=extmap:" + e.attributeValue) }
            if let dir = m.direction { line("a=\(dir.rawValue)") }
            for msid in m.msids { line("a=msid:" + msid.attributeValue) }
            if m.rtcpMux { line("a=rtcp-mux") }
            if m.rtcpReducedSize { line("a=rtcp-rsize") }
            for fb in m.wildcardFeedback { line("a=rtcp-fb:* \(fb)") }
            for c in m.codecs {
                line("a=rtpmap:\(c.payloadType) \(c.rtpmapValue)")
                for fb in c.feedback { line("a=rtcp-fb:\(c.payloadType) \(fb)") }
                if let f = c.fmtpValue { line("a=fmtp:\(c.payloadType) \(f)") }
            }
            for g in m.ssrcGroups {
                line("a=ssrc-group:" + ([g.semantics] + g.ssrcs.map(String.init)).joined(separator: " "))
            }
            for s in m.ssrcs {
                for a in s.attributes {
                    if let v = a.value {
                        line("a=ssrc:\(s.ssrc) \(a.name):\(v)")
                    } else {
                        line("a=ssrc:\(s.ssrc) \(a.name)")
                    }
                }
            }
            for a in m.otherAttributes { line(a.line) }
            for c in m.candidates { line("a=candidate:" + c.attributeValue) }
            if m.endOfCandidates { line("a=end-of-candidates") }
        }
        return out
    }
}
