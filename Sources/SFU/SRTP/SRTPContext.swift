/// The two SRTP sessions of one peer: inbound unprotects with the peer's write key,
/// outbound protects with ours. Core-confined like the peer session that owns it.
///
/// libsrtp keeps one stream (keys, replay window) per SSRC, made from the session's template
/// on the first packet of an SSRC that authenticates, and finds a packet's stream by walking
/// a list. Only the peer can authenticate, but a peer is a client like any other: one that
/// sends 20 000 SSRCs would grow the list, and with it every packet's cost, without end. So the
/// inbound streams are bounded here (`maxInboundStreams`, SRTP and SRTCP together, since
/// libsrtp shares a stream between them); a packet of one more SSRC is refused before libsrtp
/// sees it. Outbound streams are the SSRCs this server chooses to send, bounded by the tracks.
public final class SRTPContext {
    public let profile: SRTPProfile
    /// Unprotects what the peer sends (keyed with the peer's write key).
    public let inbound: SRTPSession
    /// Protects what we send (keyed with our write key).
    public let outbound: SRTPSession
    /// Protects RTP with `outbound`, as a plain value (the fan-out's per-copy path).
    let rtpProtector: SRTPProtector

    /// Inbound SSRCs (RTP and RTCP senders) with a libsrtp stream, per peer. A publisher
    /// sends a few (audio, video, RTX; simulcast layers with theirs), a viewer one or two
    /// RTCP sender SSRCs.
    public static let maxInboundStreams = 16
    /// The SSRCs that have a stream in `inbound`; never more than `maxInboundStreams`. Read
    /// for every received packet: core-confined, so no dynamic exclusivity check.
    @exclusivity(unchecked) private var inboundSSRCs: [UInt32]
    /// Packets refused because they would have made one stream too many.
    public private(set) var refusedStreams: UInt64 = 0

    /// Both sessions from DTLS-exported keys; `keys.role` says which half is ours.
    public init(keys: SRTPKeys) throws(SRTPError) {
        profile = keys.profile
        inbound = try SRTPSession(profile: keys.profile, key: keys.remoteKeyingMaterial, direction: .inbound)
        outbound = try SRTPSession(profile: keys.profile, key: keys.localKeyingMaterial, direction: .outbound)
        rtpProtector = outbound.protector
        inboundSSRCs = []
        inboundSSRCs.reserveCapacity(Self.maxInboundStreams)
    }

    /// The inbound SSRCs that have a libsrtp stream now.
    public var inboundStreamCount: Int { inboundSSRCs.count }

    /// Removes the inbound stream of an SSRC the room did not accept, so that an SSRC that
    /// authenticated but leads nowhere holds no libsrtp state and no slot of the bound.
    public func forgetInboundStream(ssrc: UInt32) {
        guard let i = inboundSSRCs.firstIndex(of: ssrc) else { return }
        inboundSSRCs.remove(at: i)
        inbound.removeStream(ssrc: ssrc)
    }

    /// See `SRTPSession.protectRTP`.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try outbound.protectRTP(buffer, length: length)
    }
    /// See `SRTPSession.unprotectRTP`. Throws `.tooManyStreams` for the packet of an SSRC
    /// that would exceed `maxInboundStreams`.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length >= 12, length <= buffer.count else { throw .badLength }
        let ssrc = Self.readSSRC(buffer, at: 8)
        if inboundSSRCs.contains(ssrc) { return try inbound.unprotectRTP(buffer, length: length) }
        return try admitStream(ssrc) { () throws(SRTPError) in try inbound.unprotectRTP(buffer, length: length) }
    }
    /// See `SRTPSession.protectRTCP`.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try outbound.protectRTCP(buffer, length: length)
    }
    /// See `SRTPSession.unprotectRTCP`. The stream is the first packet's sender SSRC, as
    /// libsrtp chooses it; bounded as `unprotectRTP`.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        guard length >= 8, length <= buffer.count else { throw .badLength }
        let ssrc = Self.readSSRC(buffer, at: 4)
        if inboundSSRCs.contains(ssrc) { return try inbound.unprotectRTCP(buffer, length: length) }
        return try admitStream(ssrc) { () throws(SRTPError) in try inbound.unprotectRTCP(buffer, length: length) }
    }

    /// Unprotects the first packet of a new SSRC, if the bound allows one more stream; libsrtp
    /// makes the stream only when the packet authenticates, so only then is it recorded.
    private func admitStream(_ ssrc: UInt32, _ unprotect: () throws(SRTPError) -> Int) throws(SRTPError) -> Int {
        guard inboundSSRCs.count < Self.maxInboundStreams else {
            refusedStreams &+= 1
            throw .tooManyStreams(limit: Self.maxInboundStreams)
        }
        let n = try unprotect()
        inboundSSRCs.append(ssrc)
        return n
    }

    private static func readSSRC(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(buffer[offset]) << 24 | UInt32(buffer[offset + 1]) << 16 | UInt32(buffer[offset + 2]) << 8
            | UInt32(buffer[offset + 3])
    }
}
