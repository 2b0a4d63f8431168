import COpenSSL
import CShim
import Glibc
import Reactor
import Testing

@testable import SFU

/// DTLS against another implementation: GnuTLS's `gnutls-cli --udp` as the active side
/// (as a browser would be) and our passive transport on a UDP socket on 127.0.0.1.
/// Skipped when `gnutls-cli` is not installed (`apt-get install gnutls-bin`).
@Suite("DTLS interop with GnuTLS", .enabled(if: access("/usr/bin/gnutls-cli", X_OK) == 0))
struct DTLSGnuTLSInteropTests {
    @Test(
        "gnutls-cli handshakes with our server, negotiates the SRTP profile and exports the same keys",
        // GnuTLS 3.7 knows no AEAD SRTP profile; the AES-CM ones are what it can offer.
        arguments: [
            ("SRTP_AES128_CM_HMAC_SHA1_80", SRTPProfile.aes128CmSha1_80),
            ("SRTP_AES128_CM_HMAC_SHA1_32:SRTP_AES128_CM_HMAC_SHA1_80", .aes128CmSha1_80),
        ])
    func gnutlsClient(offer: String, expected: SRTPProfile) throws {
        let serverIdentity = try DTLSIdentity.generate()
        let clientIdentity = try DTLSIdentity.generate()
        let dir = try #require(InteropFiles(identity: clientIdentity))
        defer { dir.remove() }
        let socket = try #require(LoopbackUDPSocket())
        defer { socket.close() }
        let server = try DTLSTransport(
            identity: serverIdentity, role: .server,
            remoteFingerprint: ("sha-256", String(clientIdentity.fingerprint.dropFirst("sha-256 ".count))))
        let length = 2 * expected.keyingMaterialLength
        let child = try #require(
            InteropProcess(
                path: "/usr/bin/gnutls-cli",
                arguments: [
                    "gnutls-cli", "--udp", "--insecure", "--port=\(socket.port)", "--mtu=1200",
                    "--x509certfile=\(dir.certificate)", "--x509keyfile=\(dir.key)",
                    "--srtp-profiles=\(offer)", "--keymatexport=EXTRACTOR-dtls_srtp",
                    "--keymatexportsize=\(length)", "127.0.0.1",
                ],
                output: dir.output))
        defer { child.kill() }

        var keys: SRTPKeys?
        var closed = false
        var buffer = [UInt8](repeating: 0, count: 2048)
        var peer = sockaddr_in()
        let deadline = Instant.now() + .seconds(10)
        while Instant.now() < deadline, !closed {
            let wait = server.nextTimeout.map { $0 - Instant.now() } ?? .milliseconds(100)
            if let n = socket.receive(into: &buffer, from: &peer, timeout: min(wait, .milliseconds(100))) {
                buffer.withUnsafeBytes {
                    server.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: .now())
                }
            }
            server.handleTimeout(now: .now())
            while let n = buffer.withUnsafeMutableBytes({ server.pollDatagram(into: $0) }) {
                socket.send(Array(buffer[0..<n]), to: peer)
            }
            while let event = server.pollEvent() {
                switch event {
                case .connected(let k):
                    keys = k
                    child.closeInput()  // gnutls-cli says goodbye (close_notify) on end of input
                case .closed: closed = true
                case .peerMissedFinished: break
                case .failed(let error): Issue.record("server failed: \(error)")
                }
            }
            if case .failed = server.state { break }
        }
        let k = try #require(keys, "no handshake; gnutls-cli said: \(dir.readOutput())")
        #expect(k.profile == expected)
        #expect(closed, "close_notify from gnutls-cli not seen")
        // Rebuild client_key|server_key|client_salt|server_salt and compare with GnuTLS's export.
        let kl = expected.keyLength
        let exported =
            Array(k.clientWriteKey[0..<kl]) + Array(k.serverWriteKey[0..<kl])
            + Array(k.clientWriteKey[kl...]) + Array(k.serverWriteKey[kl...])
        child.wait()
        let said = dir.readOutput()
        let hex = exported.map {
            String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
        }
        .joined()
        #expect(said.lowercased().contains(hex), "GnuTLS output: \(said)")
    }
}

extension DTLSGnuTLSInteropTests {
    @Test("a gnutls-cli that offers no SRTP profile we support makes our server fail with .noSRTPProfile")
    func gnutlsClientWithoutCommonProfile() throws {
        let serverIdentity = try DTLSIdentity.generate()
        let clientIdentity = try DTLSIdentity.generate()
        let dir = try #require(InteropFiles(identity: clientIdentity))
        defer { dir.remove() }
        let socket = try #require(LoopbackUDPSocket())
        defer { socket.close() }
        let server = try DTLSTransport(
            identity: serverIdentity, role: .server,
            remoteFingerprint: ("sha-256", String(clientIdentity.fingerprint.dropFirst("sha-256 ".count))))
        let child = try #require(
            InteropProcess(
                path: "/usr/bin/gnutls-cli",
                arguments: [
                    "gnutls-cli", "--udp", "--insecure", "--port=\(socket.port)",
                    "--x509certfile=\(dir.certificate)", "--x509keyfile=\(dir.key)",
                    "--srtp-profiles=SRTP_AES128_CM_HMAC_SHA1_32", "127.0.0.1",
                ],
                output: dir.output))
        defer { child.kill() }
        var buffer = [UInt8](repeating: 0, count: 2048)
        var peer = sockaddr_in()
        let deadline = Instant.now() + .seconds(10)
        while Instant.now() < deadline, server.state == .handshaking {
            if let n = socket.receive(into: &buffer, from: &peer, timeout: .milliseconds(50)) {
                buffer.withUnsafeBytes {
                    server.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: .now())
                }
            }
            server.handleTimeout(now: .now())
            while let n = buffer.withUnsafeMutableBytes({ server.pollDatagram(into: $0) }) {
                socket.send(Array(buffer[0..<n]), to: peer)
            }
        }
        #expect(server.state == .failed(.noSRTPProfile), "gnutls-cli said: \(dir.readOutput())")
        // The peer is told with close_notify rather than left waiting.
        while let n = buffer.withUnsafeMutableBytes({ server.pollDatagram(into: $0) }) {
            socket.send(Array(buffer[0..<n]), to: peer)
        }
        child.wait()
        #expect(dir.readOutput().contains("closed"), "gnutls-cli said: \(dir.readOutput())")
    }
}

/// A UDP socket on 127.0.0.1 with an ephemeral port.
struct LoopbackUDPSocket {
    let fd: Int32
    let port: UInt16

    init?() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else {
            Glibc.close(fd)
            return nil
        }
        self.fd = fd
        self.port = UInt16(bigEndian: addr.sin_port)
    }

    func receive(into buffer: inout [UInt8], from peer: inout sockaddr_in, timeout: Reactor.Duration) -> Int? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout.milliseconds)) == 1 else { return nil }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buffer.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &peer) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, b.baseAddress, b.count, 0, $0, &len)
                }
            }
        }
        return n > 0 ? n : nil
    }

    func send(_ bytes: [UInt8], to peer: sockaddr_in) {
        var peer = peer
        _ = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &peer) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    func close() { Glibc.close(fd) }
}

/// A temporary folder with an identity's certificate and key as PEM, and a log file.
struct InteropFiles {
    let folder: String
    var certificate: String { folder + "/cert.pem" }
    var key: String { folder + "/key.pem" }
    var output: String { folder + "/output.txt" }

    init?(identity: DTLSIdentity) {
        var template = Array("/tmp/livesfu-dtls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return nil }
        folder = String(cString: made)
        guard let c = fopen(folder + "/cert.pem", "w") else { return nil }
        let certOK = PEM_write_X509(c, identity.certificate) == 1
        fclose(c)
        guard let k = fopen(folder + "/key.pem", "w") else { return nil }
        let keyOK = PEM_write_PrivateKey(k, identity.privateKey, nil, nil, 0, nil, nil) == 1
        fclose(k)
        guard certOK, keyOK else { return nil }
    }

    func readOutput() -> String {
        guard let f = fopen(output, "r") else { return "" }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func remove() {
        for f in [certificate, key, output] { unlink(f) }
        rmdir(folder)
    }
}

/// A child process with stdout/stderr to a file and stdin from a pipe we hold.
final class InteropProcess {
    private(set) var pid: pid_t = 0
    private var input: Int32 = -1
    private var reaped = false

    init?(path: String, arguments: [String], output: String) {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let status = posix_spawn(&pid, path, &actions, nil, argv, environ)
        Glibc.close(pipeFDs[0])
        guard status == 0 else {
            Glibc.close(pipeFDs[1])
            return nil
        }
        input = pipeFDs[1]
    }

    func closeInput() {
        if input >= 0 { Glibc.close(input) }
        input = -1
    }

    /// Waits up to 5 s for the child to exit, then kills it.
    func wait() {
        guard !reaped, pid > 0 else { return }
        for _ in 0..<500 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return
            }
            usleep(10_000)
        }
        kill()
    }

    func kill() {
        closeInput()
        guard !reaped, pid > 0 else { return }  // never kill(0): that is our process group
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        reaped = true
    }
}
