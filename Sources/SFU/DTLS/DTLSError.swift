/// Why DTLS setup or a handshake failed; messages are meant for logs and HTTP error bodies.
public enum DTLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Generating the process's key or certificate failed (OpenSSL's reason).
    case identityGenerationFailed(String)
    /// Creating the SSL context or session object failed (OpenSSL's reason).
    case setupFailed(String)
    /// The SDP fingerprint names a hash we do not know (we know sha-1, sha-224 .. sha-512).
    case unsupportedFingerprintAlgorithm(String)
    /// The SDP fingerprint value is not colon-separated hex of the hash's length.
    case malformedFingerprint(String)
    /// The peer's certificate does not hash to the fingerprint in its SDP.
    case fingerprintMismatch
    /// The peer completed the handshake without a certificate.
    case noPeerCertificate
    /// The peer did not negotiate `use_srtp` with a profile we offer.
    case noSRTPProfile
    /// `SSL_export_keying_material` failed.
    case keyExportFailed
    /// The handshake failed: a fatal alert sent or received, or a protocol error.
    case handshakeFailed(String)
    /// The peer stopped answering: every retransmission of our flight timed out.
    case timedOut

    public var description: String {
        switch self {
        case .identityGenerationFailed(let why): "DTLS identity generation failed: \(why)"
        case .setupFailed(let why): "DTLS setup failed: \(why)"
        case .unsupportedFingerprintAlgorithm(let name): "unsupported fingerprint hash '\(name)'"
        case .malformedFingerprint(let value): "malformed fingerprint '\(value.prefix(120))'"
        case .fingerprintMismatch: "the peer's DTLS certificate does not match the fingerprint in its SDP"
        case .noPeerCertificate: "the peer sent no DTLS certificate"
        case .noSRTPProfile: "the peer negotiated no SRTP profile we support (use_srtp)"
        case .keyExportFailed: "exporting SRTP keys from DTLS failed"
        case .handshakeFailed(let why): "DTLS handshake failed: \(why)"
        case .timedOut: "DTLS handshake timed out (peer stopped answering)"
        }
    }
}
