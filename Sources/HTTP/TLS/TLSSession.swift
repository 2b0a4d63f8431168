import COpenSSL

/// The server side of one TLS connection over memory BIOs, sans-IO: ciphertext in →
/// plaintext out; plaintext in → ciphertext out. `HTTPServer` puts it between the TCP
/// connection and the `HTTPConnection`, which never knows TLS is there.
/// Not `Sendable`: owned by its connection's core.
public final class TLSSession {
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private var failed = false

    public init(context: TLSServerContext) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw .configuration("SSL_new failed") }
        guard let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw .configuration("BIO_new failed")
        }
        // An empty read BIO means "no data yet", not end of file.
        _ = lsfu_BIO_set_mem_eof_return(rbio, -1)
        SSL_set_bio(ssl, rbio, wbio)  // the SSL owns both BIOs now
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.readBIO = rbio
        self.writeBIO = wbio
    }

    deinit { SSL_free(ssl) }

    /// Whether the handshake has finished.
    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// Feeds ciphertext from the peer; returns the plaintext it decrypts to (empty during the
    /// handshake). Handshake replies are waiting in `takeOutput()` afterwards.
    public func receive(_ ciphertext: UnsafeRawBufferPointer) throws(TLSError) -> [UInt8] {
        guard !failed else { throw .protocolFailure("session already failed") }
        var offset = 0
        while offset < ciphertext.count {
            let n = BIO_write(readBIO, ciphertext.baseAddress! + offset, Int32(min(ciphertext.count - offset, Int(Int32.max))))
            guard n > 0 else { throw fail("BIO_write failed") }
            offset += Int(n)
        }
        ERR_clear_error()
        if !isHandshakeComplete {
            let r = SSL_do_handshake(ssl)
            if r != 1 {
                let error = SSL_get_error(ssl, r)
                if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return [] }
                throw fail("handshake failed: \(TLSError.openSSLErrors())")
            }
        }
        var plaintext: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                plaintext.append(contentsOf: chunk[0..<Int(n)])
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { break }
            if error == SSL_ERROR_ZERO_RETURN { break }  // close_notify: the TCP close follows
            throw fail("read failed: \(TLSError.openSSLErrors())")
        }
        return plaintext
    }

    /// Encrypts plaintext for the peer (after the handshake); the records are in `takeOutput()`.
    public func send(_ plaintext: [UInt8]) throws(TLSError) {
        guard !failed else { throw .protocolFailure("session already failed") }
        var offset = 0
        while offset < plaintext.count {
            let n = plaintext.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(min($0.count - offset, 1 << 20))) }
            guard n > 0 else { throw fail("write failed: \(TLSError.openSSLErrors())") }
            offset += Int(n)
        }
    }

    /// Queues a close_notify alert.
    public func shutdown() {
        guard !failed, isHandshakeComplete else { return }
        _ = SSL_shutdown(ssl)
    }

    /// Ciphertext to write to the socket, emptied by the call.
    public func takeOutput() -> [UInt8] {
        let pending = Int(lsfu_BIO_pending(writeBIO))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let n = out.withUnsafeMutableBytes { BIO_read(writeBIO, $0.baseAddress, Int32($0.count)) }
        if n <= 0 { return [] }
        if Int(n) < pending { out.removeLast(pending - Int(n)) }
        return out
    }

    private func fail(_ why: String) -> TLSError {
        failed = true
        return .protocolFailure(why)
    }
}
