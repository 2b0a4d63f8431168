import Reactor

/// The SDP offers the load generator sends: a publisher's (sendonly VP8 + Opus, SSRCs
/// declared, the MID header extension) and a viewer's (recvonly VP8 + Opus), BUNDLEd,
/// rtcp-mux, non-trickle with the one host candidate of the client's socket. They follow
/// what Chromium sends (fixtures/sdp), minus what the load generator does not implement
/// (RTX, transport-cc, simulcast).
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

    public static let videoPT: UInt8 = 96
    public static let audioPT: UInt8 = 111
    public static let midExtensionID: UInt8 = 4

    public init(role: Role, iceUfrag: String, icePassword: String, fingerprint: String, candidate: SocketAddress) {
        self.role = role
        self.iceUfrag = iceUfrag
        self.icePassword = icePassword
        self.fingerprint = fingerprint
        self.candidate = candidate
    }

    public var sdp: String {
        var s = "v=0\r\no=- \(sessionID) 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        s += "a=extmap-allow-mixed\r\na=msid-semantic: WMS\(role == .publisher ? " lsfu" : "")\r\n"
        s += media(kind: "video", mid: "0", pt: Self.videoPT, ssrc: videoSSRC)
        s += media(kind: "audio", mid: "1", pt: Self.audioPT, ssrc: audioSSRC)
        return s
    }

    private func media(kind: String, mid: String, pt: UInt8, ssrc: UInt32) -> String {
        let ip = candidate.ipString
        var s = "m=\(kind) \(candidate.port) UDP/TLS/RTP/SAVPF \(pt)\r\n"
        s += "c=IN IP4 \(ip)\r\na=rtcp:\(candidate.port) IN IP4 \(ip)\r\n"
        s += "a=candidate:1 1 udp 2130706431 \(ip) \(candidate.port) typ host generation 0\r\n"
        s += "a=end-of-candidates\r\n"
        s += "a=ice-ufrag:\(iceUfrag)\r\na=ice-pwd:\(icePassword)\r\n"
        s += "a=fingerprint:\(fingerprint)\r\na=setup:actpass\r\na=mid:\(mid)\r\n"
        s += "a=extmap:\(Self.midExtensionID) urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        s += role == .publisher ? "a=sendonly\r\n" : "a=recvonly\r\n"
        if role == .publisher { s += "a=msid:lsfu lsfu-\(kind)\r\n" }
        s += "a=rtcp-mux\r\n"
        if kind == "video" {
            s += "a=rtcp-rsize\r\na=rtpmap:\(pt) VP8/90000\r\n"
            s += "a=rtcp-fb:\(pt) ccm fir\r\na=rtcp-fb:\(pt) nack\r\na=rtcp-fb:\(pt) nack pli\r\n"
        } else {
            s += "a=rtpmap:\(pt) opus/48000/2\r\na=fmtp:\(pt) minptime=10;useinbandfec=1\r\n"
        }
        if role == .publisher && ssrc != 0 {
            s += "a=ssrc:\(ssrc) cname:livesfu-load\r\na=ssrc:\(ssrc) msid:lsfu lsfu-\(kind)\r\n"
        }
        return s
    }
}
