import COpenSSL
import Foundation
import Testing

@testable import HTTP

/// A self-signed certificate made by `openssl req` in a temporary folder.
struct SelfSignedCertificate {
    let directory: String
    var certificate: String { directory + "/cert.pem" }
    var key: String { directory + "/key.pem" }

    init() throws {
        directory = NSTemporaryDirectory() + "lsfu-tls-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
        ]
        openssl.standardError = Pipe()
        try openssl.run()
        openssl.waitUntilExit()
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// An OpenSSL client over memory BIOs, to talk to a `TLSSession` without sockets.
final class MemoryTLSClient {
    let ctx: OpaquePointer
    let ssl: OpaquePointer
    let rbio: OpaquePointer
    let wbio: OpaquePointer

    init(trusting certificate: String) {
        ctx = SSL_CTX_new(TLS_client_method())!
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        SSL_CTX_load_verify_locations(ctx, certificate, nil)
        ssl = SSL_new(ctx)!
        rbio = BIO_new(BIO_s_mem())!
        wbio = BIO_new(BIO_s_mem())!
        _ = lsfu_BIO_set_mem_eof_return(rbio, -1)
        SSL_set_bio(ssl, rbio, wbio)
        SSL_set_connect_state(ssl)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(ctx)
    }

    func take() -> [UInt8] {
        let n = Int(lsfu_BIO_pending(wbio))
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        _ = out.withUnsafeMutableBytes { BIO_read(wbio, $0.baseAddress, Int32(n)) }
        return out
    }

    func give(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { BIO_write(rbio, $0.baseAddress, Int32($0.count)) }
    }

    func handshakeStep() -> Bool { SSL_do_handshake(ssl) == 1 }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
    }

    func read() -> String {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        return n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : ""
    }
}

@Suite("TLS session", .serialized)
struct TLSSessionTests {
    @Test("a client completes the handshake in memory and an HTTP exchange goes through")
    func handshakeAndData() throws {
        let cert = try SelfSignedCertificate()
        defer { cert.remove() }
        let server = try TLSSession(context: TLSServerContext(certificateFile: cert.certificate, keyFile: cert.key))
        let client = MemoryTLSClient(trusting: cert.certificate)
        var done = false
        for _ in 0..<10 where !done {
            done = client.handshakeStep()
            let toServer = client.take()
            let plaintext = try toServer.withUnsafeBytes { try server.receive($0) }
            #expect(plaintext.isEmpty)
            client.give(server.takeOutput())
        }
        _ = client.handshakeStep()
        #expect(done || server.isHandshakeComplete)
        client.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let request = try client.take().withUnsafeBytes { try server.receive($0) }
        #expect(String(decoding: request, as: UTF8.self) == "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try server.send(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n".utf8))
        client.give(server.takeOutput())
        #expect(client.read().hasSuffix("ok\n"))
    }

    @Test("plaintext HTTP or garbage instead of a ClientHello fails the session with an error")
    func garbage() throws {
        let cert = try SelfSignedCertificate()
        defer { cert.remove() }
        let session = try TLSSession(context: TLSServerContext(certificateFile: cert.certificate, keyFile: cert.key))
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        #expect(throws: TLSError.self) { try bytes.withUnsafeBytes { try session.receive($0) } }
        #expect(throws: TLSError.self) { try bytes.withUnsafeBytes { try session.receive($0) } }
    }

    @Test("a missing or mismatched key is a configuration error")
    func badFiles() throws {
        let cert = try SelfSignedCertificate()
        defer { cert.remove() }
        let other = try SelfSignedCertificate()
        defer { other.remove() }
        #expect(throws: TLSError.self) { try TLSServerContext(certificateFile: cert.certificate, keyFile: "/nonexistent.pem") }
        #expect(throws: TLSError.self) { try TLSServerContext(certificateFile: cert.certificate, keyFile: other.key) }
        #expect(throws: TLSError.self) { try TLSServerContext(certificateFile: "/nonexistent.pem", keyFile: cert.key) }
    }
}
