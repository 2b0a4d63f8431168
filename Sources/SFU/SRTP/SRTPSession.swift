import CSRTP

/// One direction of SRTP and SRTCP for one peer, over libsrtp (RFC 3711, RFC 7714).
///
/// Protect and unprotect work in place on the caller's buffer and never allocate. The session
/// accepts any SSRC (libsrtp's `ssrc_any_inbound` / `ssrc_any_outbound` templates): libsrtp adds
/// a stream per SSRC on first use — inbound only after a packet authenticated, so garbage
/// never allocates. Not thread-safe: owned by the core that owns the peer session.
/// `~Copyable` so the libsrtp context has exactly one owner and `deinit` frees it.
public struct SRTPSession: ~Copyable {
    /// Whether this session unprotects what the peer sends or protects what we send.
    public enum Direction: Sendable, Hashable {
        case inbound
        case outbound
    }

    /// Spare bytes after `length` that always suffice for `protectRTP`/`protectRTCP`
    /// (libsrtp's `SRTP_MAX_TRAILER_LEN`, which includes room for an MKI we never use).
    /// The exact need is `profile.rtpTrailerLength` / `profile.rtcpTrailerLength`.
    public static let maxTrailer = Int(SRTP_MAX_TRAILER_LEN)

    /// Replay window in packets. An SFU sees video reordered by a few hundred packets on bad
    /// paths and resends NACKed packets late; 1024 (as mediasoup uses) keeps both (RFC 3711
    /// §3.3.2 asks for at least 64). Costs 128 bytes per SSRC.
    public static let replayWindow = 1024

    public let profile: SRTPProfile
    public let direction: Direction
    private let context: srtp_t

    /// Creates a session from `key‖salt` (`profile.keyingMaterialLength` bytes).
    /// Outbound sessions allow a repeated sequence number so NACKed packets can be resent
    /// (the resend must carry the same payload, which a retransmission does).
    public init(profile: SRTPProfile, key: [UInt8], direction: Direction) throws(SRTPError) {
        try SRTPLibrary.ensureInitialized()
        guard key.count == profile.keyingMaterialLength else {
            throw .badKey(expected: profile.keyingMaterialLength, got: key.count)
        }
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAes128Gcm:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aes128CmSha1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        }
        policy.ssrc.type = direction == .inbound ? ssrc_any_inbound : ssrc_any_outbound
        policy.window_size = UInt(Self.replayWindow)
        policy.allow_repeat_tx = direction == .outbound ? 1 : 0
        policy.next = nil
        var created: srtp_t? = nil
        // libsrtp derives the session keys inside srtp_create and keeps no pointer to `key`.
        let status = key.withUnsafeBufferPointer { keyBytes in
            policy.key = UnsafeMutablePointer(mutating: keyBytes.baseAddress)
            return srtp_create(&created, &policy)
        }
        guard status == srtp_err_status_ok, let created else {
            throw .setupFailed(status: Int32(bitPattern: status.rawValue))
        }
        self.profile = profile
        self.direction = direction
        self.context = created
    }

    deinit { srtp_dealloc(context) }

    /// Frees libsrtp's per-SSRC state (keys, replay window) of a stream that ended, e.g. a
    /// track removed or a viewer's SSRC retired. Returns false if the SSRC was never seen.
    /// A later packet with that SSRC starts a fresh stream (with a fresh replay window).
    @discardableResult
    public func removeStream(ssrc: UInt32) -> Bool {
        srtp_remove_stream(context, ssrc.bigEndian) == srtp_err_status_ok
    }

    /// A plain-value RTP protect handle on this session, valid while the session lives
    /// (see `SRTPProtector`).
    var protector: SRTPProtector { SRTPProtector(context: context, trailer: profile.rtpTrailerLength) }

    /// Encrypts and authenticates the RTP packet in `buffer[0..<length]`; returns the new
    /// length (`length + profile.rtpTrailerLength`). The buffer must have that room.
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try run(buffer, length: length, trailer: profile.rtpTrailerLength, srtp_protect)
    }

    /// Verifies and decrypts the SRTP packet in `buffer[0..<length]`; returns the RTP length.
    /// Throws `.authenticationFailed`, `.replay`, `.tooOld` or `.badLength` for bad input.
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try run(buffer, length: length, trailer: 0, srtp_unprotect)
    }

    /// Encrypts and authenticates the (compound) RTCP packet in `buffer[0..<length]`; returns
    /// the new length (`length + profile.rtcpTrailerLength`).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try run(buffer, length: length, trailer: profile.rtcpTrailerLength, srtp_protect_rtcp)
    }

    /// Verifies and decrypts the SRTCP packet in `buffer[0..<length]`; returns the RTCP length.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        try run(buffer, length: length, trailer: 0, srtp_unprotect_rtcp)
    }

    func run(
        _ buffer: UnsafeMutableRawBufferPointer, length: Int, trailer: Int,
        _ operation: (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t
    ) throws(SRTPError) -> Int {
        // libsrtp trusts the length it is given and writes the trailer past it unchecked.
        guard length > 0, length <= buffer.count, length <= Int(Int32.max) - 256,
            let base = buffer.baseAddress
        else { throw .badLength }
        guard buffer.count - length >= trailer else {
            throw .noRoomForTrailer(needed: trailer, available: buffer.count - length)
        }
        var newLength = Int32(length)
        let status = operation(context, base, &newLength)
        guard status == srtp_err_status_ok else { throw SRTPError(status: status) }
        return Int(newLength)
    }
}
