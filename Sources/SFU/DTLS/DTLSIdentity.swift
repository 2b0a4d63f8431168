import COpenSSL
import Synchronization

/// The process's DTLS identity: an ECDSA P-256 key, a self-signed certificate, its SHA-256
/// fingerprint for SDP, and the configured `SSL_CTX` every `DTLSTransport` is made from.
///
/// `deferred()` makes all of it on first use (the first session's offer) instead of at
/// start-up: the key, the certificate and the `SSL_CTX` are what page in most of libcrypto
/// and libssl (≈2.8 MB of an idle server's RSS, perf/RESULTS.md "Idle RSS"), and an idle
/// server needs none of it. The first use pays ≈3 ms once (OpenSSL's own start-up included).
///
/// `Sendable` because the OpenSSL objects are made once, under a lock, and never modified
/// afterwards: OpenSSL 3 allows concurrent read-only use of `SSL_CTX`, `X509`, `EVP_PKEY` and
/// `BIO_METHOD`, and `SSL_new` (the only use cores make, once per peer) takes its references
/// atomically. The session cache is off, so no handshake writes shared state in the context.
/// One context per process is therefore enough; a per-core context would only save the
/// atomic reference counts.
public final class DTLSIdentity: Sendable {
    /// `SRTP_AEAD_AES_128_GCM` first: the server picks the first of its own list the client
    /// also offers, so GCM wins whenever the browser has it; AES-CM is the WebRTC mandatory one.
    static let srtpProfiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
    /// ECDHE-ECDSA (our certificate is ECDSA) with AEAD only: RFC 8827 §6.5 makes
    /// ECDHE-ECDSA-AES128-GCM-SHA256 mandatory for every WebRTC endpoint, and AEAD-only lets
    /// `DTLSTransport` screen out records too short to be genuine (see its
    /// `minimumEncryptedRecord`).
    static let cipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384"

    /// The OpenSSL objects, made together.
    struct Materials: @unchecked Sendable {
        let privateKey: OpaquePointer  // EVP_PKEY*
        let certificate: OpaquePointer  // X509*
        let context: OpaquePointer  // SSL_CTX*
        /// The write BIO method that turns each `BIO_write` into one outgoing datagram.
        let datagramWriteMethod: OpaquePointer  // BIO_METHOD*
        let fingerprint: DTLSFingerprint
    }

    /// nil until first use; then the materials, or why they could not be made (kept, so every
    /// later use fails the same way instead of retrying OpenSSL on each offer).
    private let state = Mutex<Result<Materials, DTLSError>?>(nil)

    /// Generates a fresh key and certificate now (≈0.3 ms, plus OpenSSL's own start-up).
    public static func generate() throws(DTLSError) -> DTLSIdentity {
        let identity = DTLSIdentity()
        _ = try identity.materials()
        return identity
    }

    /// An identity whose key and certificate are generated on first use. Generation failing
    /// then (a broken OpenSSL, no memory) makes every `DTLSTransport` creation fail with
    /// `.setupFailed`, and `fingerprint` an all-zero placeholder that no answer is sent with
    /// (a session's answer goes out only once its transport exists).
    public static func deferred() -> DTLSIdentity {
        DTLSIdentity()
    }

    private init() {}

    /// Makes the materials on the first call; the same ones (or the same error) afterwards.
    func materials() throws(DTLSError) -> Materials {
        let result = state.withLock { state in
            if let state { return state }
            let made: Result<Materials, DTLSError>
            do throws(DTLSError) {
                made = .success(try Self.makeMaterials())
            } catch {
                made = .failure(error)
            }
            state = made
            return made
        }
        return try result.get()
    }

    /// The same as a value (algorithm and bytes).
    public var localFingerprint: DTLSFingerprint {
        (try? materials())?.fingerprint ?? Self.placeholderFingerprint
    }

    /// `"sha-256 AB:CD:.."`: the value of our `a=fingerprint:` attribute.
    public var fingerprint: String { localFingerprint.description }

    /// nil only if generation failed; `SSL_new(nil)` then fails and so does the transport.
    var context: OpaquePointer? { try? materials().context }
    var datagramWriteMethod: OpaquePointer? { try? materials().datagramWriteMethod }
    var privateKey: OpaquePointer? { try? materials().privateKey }
    var certificate: OpaquePointer? { try? materials().certificate }

    private static let placeholderFingerprint = DTLSFingerprint(
        placeholderAlgorithm: "sha-256", bytes: [UInt8](repeating: 0, count: 32))

    private static func makeMaterials() throws(DTLSError) -> Materials {
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
        return Materials(
            privateKey: key, certificate: cert, context: ctx, datagramWriteMethod: method, fingerprint: fingerprint)
    }

    deinit {
        guard case .success(let m)? = state.withLock({ $0 }) else { return }
        SSL_CTX_free(m.context)
        BIO_meth_free(m.datagramWriteMethod)
        X509_free(m.certificate)
        EVP_PKEY_free(m.privateKey)
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

extension DTLSFingerprint {
    /// Only for `DTLSIdentity`'s placeholder: no parsing, no hash-name check.
    fileprivate init(placeholderAlgorithm algorithm: String, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }
}
