/// An SRTP protection profile negotiated by DTLS `use_srtp` (RFC 5764 §4.1.2, RFC 7714 §14.2).
public enum SRTPProfile: Sendable, Hashable, CustomStringConvertible {
    /// `SRTP_AEAD_AES_128_GCM`: AES-128-GCM with a 16-byte tag; preferred (faster, shorter keys).
    case aeadAes128Gcm
    /// `SRTP_AES128_CM_HMAC_SHA1_80`: AES-128 counter mode with a 10-byte HMAC-SHA1 tag;
    /// mandatory to implement for WebRTC (RFC 8827 §6.5).
    case aes128CmSha1_80

    /// The profile for a `use_srtp` protection profile id, or nil if unsupported.
    public init?(dtlsProfileID: UInt) {
        switch dtlsProfileID {
        case 0x0007: self = .aeadAes128Gcm
        case 0x0001: self = .aes128CmSha1_80
        default: return nil
        }
    }

    /// The `use_srtp` protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2).
    public var dtlsProfileID: UInt {
        switch self {
        case .aeadAes128Gcm: 0x0007
        case .aes128CmSha1_80: 0x0001
        }
    }

    /// Master key length in bytes.
    public var keyLength: Int { 16 }

    /// Master salt length in bytes (RFC 7714 uses a 96-bit salt, RFC 3711 a 112-bit one).
    public var saltLength: Int {
        switch self {
        case .aeadAes128Gcm: 12
        case .aes128CmSha1_80: 14
        }
    }

    /// Length of `key‖salt`, the form `SRTPSession` takes.
    public var keyingMaterialLength: Int { keyLength + saltLength }

    /// Bytes `protectRTP` appends (the authentication tag).
    public var rtpTrailerLength: Int {
        switch self {
        case .aeadAes128Gcm: 16
        case .aes128CmSha1_80: 10
        }
    }

    /// Bytes `protectRTCP` appends: the 4-byte E flag + SRTCP index, then the tag.
    public var rtcpTrailerLength: Int { 4 + rtpTrailerLength }

    public var description: String {
        switch self {
        case .aeadAes128Gcm: "SRTP_AEAD_AES_128_GCM"
        case .aes128CmSha1_80: "SRTP_AES128_CM_SHA1_80"
        }
    }
}
