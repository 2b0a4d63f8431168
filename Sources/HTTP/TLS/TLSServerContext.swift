import COpenSSL

/// An OpenSSL server context (TLS 1.2+) with the certificate chain and key from
/// `TLS_CERT_FILE`/`TLS_KEY_FILE`. One per core: an `SSL_CTX` is reference-counted and
/// mutated by OpenSSL internally (session cache), and keeping it core-confined needs no
/// argument about its thread safety. Main builds one first to report a bad file at start-up.
public final class TLSServerContext {
    let context: OpaquePointer

    public init(certificateFile: String, keyFile: String) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw .configuration("SSL_CTX_new failed: \(TLSError.openSSLErrors())")
        }
        context = ctx
        _ = lsfu_SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)
        // Output goes to a memory BIO: partial writes and moving buffers are fine.
        _ = lsfu_SSL_CTX_set_mode(ctx, Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE))
        guard SSL_CTX_use_certificate_chain_file(ctx, certificateFile) == 1 else {
            throw .configuration("cannot load certificate \(certificateFile): \(TLSError.openSSLErrors())")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .configuration("cannot load key \(keyFile): \(TLSError.openSSLErrors())")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw .configuration("key \(keyFile) does not match certificate \(certificateFile)")
        }
    }

    deinit { SSL_CTX_free(context) }
}
