import COpenSSL

/// The process's DTLS identity: an ECDSA P-256 key, a self-signed certificate, its SHA-256
/// fingerprint for SDP, and the configured `SSL_CTX` every `DTLSTransport` is made from.
///
/// `@unchecked Sendable` is safe because every stored property is a `let` set in `init` and
/// the OpenSSL objects behind them are never modified afterwards: OpenSSL 3 allows concurrent
/// read-only use of `SSL_CTX`, `X509`, `EVP_PKEY` and `BIO_METHOD`, and `SSL_new` (the only
/// use cores make, once per peer) takes its references atomically. The session cache is off,
/// so no handshake writes shared state in the context. One context per process is therefore
/// enough; a per-core context would only save the atomic reference counts.
public final class DTLSIdentity: @unchecked Sendable {
    /// `"sha-256 AB:CD:.."`: the value of our `a=fingerprint:` attribute.
    public let fingerprint: String
    /// The same as a value (algorithm and bytes).
    public let localFingerprint: DTLSFingerprint

    /// `SRTP_AEAD_AES_128_GCM` first: the server picks the first of its own list the client
    /// also offers, so GCM wins whenever the browser has it; AES-CM is the WebRTC mandatory one.
    static let srtpProfiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
    /// ECDHE-ECDSA (our certificate is ECDSA) with AEAD only: RFC 8827 §6.5 makes
    /// ECDHE-ECDSA-AES128-GCM-SHA256 mandatory for every WebRTC endpoint, and AEAD-only lets
    /// `DTLSTransport` screen out records too short to be genuine (see its
    /// `minimumEncryptedRecord`).
    static let cipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384"

    let privateKey: OpaquePointer  // EVP_PKEY*
    let certificate: OpaquePointer  // X509*
    let context: OpaquePointer  // SSL_CTX*
    /// The write BIO method that turns each `BIO_write` into one outgoing datagram.
    let datagramWriteMethod: OpaquePointer  // BIO_METHOD*

    /// Generates a fresh key and certificate (≈0.3 ms). Call once at start-up.
    public static func generate() throws(DTLSError) -> DTLSIdentity {
        try DTLSIdentity()
    }

    private init() throws(DTLSError) {
        guard let key = lsfu_EVP_EC_gen("P-256") else {
            throw .identityGenerationFailed(DTLSIdentity.openSSLError())
        }
        guard let cert = DTLSIdentity.selfSignedCertificate(key: key) else {
            EVP_PKEY_free(key)
            throw .identityGenerationFailed(DTLSIdentity.openSSLError())
        }
        let fingerprint: DTLSFingerprint
        do {
            fingerprint = try DTLSFingerprint(certificate: cert)
        } catch {
            X509_free(cert)
            EVP_PKEY_free(key)
            throw error
        }
        guard let method = DTLSIdentity.makeDatagramWriteMethod() else {
            X509_free(cert)
            EVP_PKEY_free(key)
            throw .setupFailed("BIO_meth_new failed")
        }
        guard let ctx = DTLSIdentity.makeContext(key: key, cert: cert) else {
            let why = DTLSIdentity.openSSLError()
            BIO_meth_free(method)
            X509_free(cert)
            EVP_PKEY_free(key)
            throw .setupFailed(why)
        }
        privateKey = key
        certificate = cert
        context = ctx
        datagramWriteMethod = method
        localFingerprint = fingerprint
        self.fingerprint = fingerprint.description
    }

    deinit {
        SSL_CTX_free(context)
        BIO_meth_free(datagramWriteMethod)
        X509_free(certificate)
        EVP_PKEY_free(privateKey)
    }

    /// A v3 certificate signed by `key` itself. Peers check only its fingerprint (RFC 8827
    /// §6.5), so the name is arbitrary; validity spans a day back (clock skew) to a year on.
    private static func selfSignedCertificate(key: OpaquePointer) -> OpaquePointer? {
        guard let cert = X509_new() else { return nil }
        var serial: UInt64 = 0
        withUnsafeMutableBytes(of: &serial) { _ = RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 8) }
        guard X509_set_version(cert, 2) == 1,
            ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) == 1,
            X509_gmtime_adj(X509_getm_notBefore(cert), -86_400) != nil,
            X509_gmtime_adj(X509_getm_notAfter(cert), 365 * 86_400) != nil,
            X509_set_pubkey(cert, key) == 1,
            let name = X509_get_subject_name(cert),
            X509_NAME_add_entry_by_txt(name, "CN", lsfu_MBSTRING_ASC(), "livesfu", -1, -1, 0) == 1,
            X509_set_issuer_name(cert, name) == 1,
            X509_sign(cert, key, EVP_sha256()) > 0
        else {
            X509_free(cert)
            return nil
        }
        return cert
    }

    private static func makeContext(key: OpaquePointer, cert: OpaquePointer) -> OpaquePointer? {
        guard let ctx = SSL_CTX_new(DTLS_method()) else { return nil }
        let ok =
            SSL_CTX_use_certificate(ctx, cert) == 1
            && SSL_CTX_use_PrivateKey(ctx, key) == 1
            && SSL_CTX_check_private_key(ctx) == 1
            && lsfu_SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1
            && lsfu_SSL_CTX_set1_groups_list(ctx, "X25519:P-256") == 1
            && SSL_CTX_set_cipher_list(ctx, cipherList) == 1
            // Returns 0 on success (NATIVE.md).
            && lsfu_SSL_CTX_set_tlsext_use_srtp(ctx, srtpProfiles) == 0
        guard ok else {
            SSL_CTX_free(ctx)
            return nil
        }
        // WebRTC peers never resume sessions; a cache would be shared mutable state. Keys are
        // exported once, so a renegotiation could only desynchronise SRTP: refuse it.
        _ = lsfu_SSL_CTX_set_session_cache_mode(ctx, lsfu_SSL_SESS_CACHE_OFF())
        _ = SSL_CTX_set_options(
            ctx, lsfu_SSL_OP_NO_TICKET() | lsfu_SSL_OP_NO_QUERY_MTU() | lsfu_SSL_OP_NO_RENEGOTIATION())
        // Ask for the peer's certificate (the server sends CertificateRequest) and accept it
        // only if it matches the SDP fingerprint; chains and CAs play no part in WebRTC.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, store in
            DTLSTransport.verifyPeerCertificate(store: store) ? 1 : 0
        }
        return ctx
    }

    /// A write-only BIO method: each `BIO_write` from OpenSSL is one DTLS datagram, appended
    /// to the owning transport's queue (a mem BIO would merge a flight into one blob).
    private static func makeDatagramWriteMethod() -> OpaquePointer? {
        let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
        guard let method = BIO_meth_new(type, "livesfu-dtls-datagram") else { return nil }
        _ = BIO_meth_set_write(method) { bio, data, length in
            guard let bio, let data, length >= 0 else { return -1 }
            DTLSTransport.enqueueDatagram(bio: bio, data: UnsafeRawBufferPointer(start: data, count: Int(length)))
            return length
        }
        _ = BIO_meth_set_ctrl(method) { _, command, _, _ in
            // FLUSH must succeed or OpenSSL reports a write error; nothing else applies.
            command == BIO_CTRL_FLUSH ? 1 : 0
        }
        _ = BIO_meth_set_create(method) { bio in
            BIO_set_init(bio, 1)
            return 1
        }
        _ = BIO_meth_set_destroy(method) { _ in 1 }
        return method
    }

    /// The reason of the oldest queued OpenSSL error, emptying the thread's error queue.
    static func openSSLError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown OpenSSL error" }
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        return "OpenSSL error \(code)"
    }
}
