/// The two SRTP sessions of one peer: inbound unprotects with the peer's write key,
/// outbound protects with ours. Core-confined like the peer session that owns it.
public final class SRTPContext {
    public let profile: SRTPProfile
    /// Unprotects what the peer sends (keyed with the peer's write key).
    public let inbound: SRTPSession
    /// Protects what we send (keyed with our write key).
    public let outbound: SRTPSession
    /// Protects RTP with `outbound`, as a plain value (the fan-out's per-copy path).
    let rtpProtector: SRTPProtector

    /// Both sessions from DTLS-exported keys; `keys.role` says which half is ours.
    public init(keys: SRTPKeys) throws(SRTPError) {
        profile = keys.profile
        inbound = try SRTPSession(profile: keys.profile, key: keys.remoteKeyingMaterial, direction: .inbound)
        outbound = try SRTPSession(profile: keys.profile, key: keys.localKeyingMaterial, direction: .outbound)
        rtpProtector = outbound.protector
    }

    /// See `SRTPSession.protectRTP`.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try outbound.protectRTP(buffer, length: length)
    }
    /// See `SRTPSession.unprotectRTP`.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try inbound.unprotectRTP(buffer, length: length)
    }
    /// See `SRTPSession.protectRTCP`.
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try outbound.protectRTCP(buffer, length: length)
    }
    /// See `SRTPSession.unprotectRTCP`.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try inbound.unprotectRTCP(buffer, length: length)
    }
}
