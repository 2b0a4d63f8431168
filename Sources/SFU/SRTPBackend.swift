import CSRTP

/// Which libsrtp and crypto backend this binary runs on, logged at start-up.
public enum SRTPBackend {
    /// e.g. "libsrtp2 2.5.0 (OpenSSL crypto, project build)".
    public static var description: String {
        let version = String(cString: srtp_get_version_string())
        #if LIVESFU_SRTP_DEBIAN
            // Debian's binary package is configured on NSS (NATIVE.md: 4x slower protect).
            return "\(version) (Debian libsrtp2, NSS crypto)"
        #else
            return "\(version) (OpenSSL crypto, project build libsrtp2_ossl)"
        #endif
    }
}
