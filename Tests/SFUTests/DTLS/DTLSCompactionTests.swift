import COpenSSL
import Glibc
import Reactor
import Testing

@testable import SFU

private let identityA = try! DTLSIdentity.generate()
private let identityB = try! DTLSIdentity.generate()

/// A connected pair on `suite`; `compacting` says which sides free their `SSL`.
private func connectedPair(suite: String, clientCompacts: Bool, serverCompacts: Bool) throws -> (
    DTLSTransport, DTLSTransport, DTLSTestLink
) {
    let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
    client.compactsWhenConnected = clientCompacts
    server.compactsWhenConnected = serverCompacts
    _ = client.ssl.map { SSL_set_cipher_list($0, suite) }  // the server follows the client's order
    let link = DTLSTestLink(client: client, server: server)
    client.startHandshake(now: link.now)
    #expect(link.run { link.bothConnected })
    #expect((client.ssl == nil) == clientCompacts && (server.ssl == nil) == serverCompacts)
    link.clientEvents.removeAll()
    link.serverEvents.removeAll()
    return (client, server, link)
}

private let suites = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
]

@Suite("DTLS after the handshake without OpenSSL's SSL")
struct DTLSCompactionTests {
    @Test("a compacted transport's close_notify is read by a peer on OpenSSL's record layer, and back", arguments: suites)
    func closeNotifyAgainstOpenSSL(suite: String) throws {
        for compactedIsServer in [true, false] {
            // The compacted side closes; OpenSSL sees close_notify.
            var (client, server, link) = try connectedPair(
                suite: suite, clientCompacts: !compactedIsServer, serverCompacts: compactedIsServer)
            let (compacted, openSSL) = compactedIsServer ? (server, client) : (client, server)
            compacted.close()
            link.run(maxSteps: 10) { openSSL.state == .closed }
            #expect(openSSL.state == .closed, "\(suite), compacted server: \(compactedIsServer)")
            // OpenSSL closes; the compacted side sees close_notify.
            (client, server, link) = try connectedPair(
                suite: suite, clientCompacts: !compactedIsServer, serverCompacts: compactedIsServer)
            let (compacted2, openSSL2) = compactedIsServer ? (server, client) : (client, server)
            openSSL2.close()
            link.run(maxSteps: 10) { compacted2.state == .closed }
            #expect(compacted2.state == .closed, "\(suite), compacted server: \(compactedIsServer)")
            #expect((compactedIsServer ? link.serverEvents : link.clientEvents) == [.closed])
        }
    }

    @Test("a compacted server resends its last flight for a retransmitted Finished, but not for a replayed one")
    func finishedRetransmission() throws {
        let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
        client.compactsWhenConnected = false
        server.compactsWhenConnected = true
        let link = DTLSTestLink(client: client, server: server)
        client.startHandshake(now: link.now)
        // Run until the server is connected (and compacted); its last flight is then lost.
        #expect(link.run { server.state == .connected })
        link.collect()
        link.inFlight.removeAll { !$0.toServer }
        #expect(server.ssl == nil && client.state != .connected)
        // The client's timer retransmits its last flight (new record sequence numbers).
        var retransmitted: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        while retransmitted.isEmpty, let t = client.nextTimeout {
            link.now = t
            // OpenSSL's own DTLS timer reads the real clock: let it reach the deadline.
            let real = Instant.now()
            if t > real { usleep(UInt32((t - real).nanoseconds / 1_000) + 200) }
            client.handleTimeout(now: t)
            while let n = buffer.withUnsafeMutableBytes({ client.pollDatagram(into: $0) }) {
                retransmitted.append(Array(buffer[0..<n]))
            }
        }
        try #require(!retransmitted.isEmpty)
        func serverReplies(to datagrams: [[UInt8]]) -> Int {
            for d in datagrams { d.withUnsafeBytes { server.handle(datagram: $0, now: link.now) } }
            var replies = 0
            while buffer.withUnsafeMutableBytes({ server.pollDatagram(into: $0) }) != nil { replies += 1 }
            return replies
        }
        #expect(serverReplies(to: retransmitted) > 0, "a retransmitted Finished gets the last flight again")
        #expect(serverReplies(to: retransmitted) == 0, "the same records replayed get nothing")
    }

    @Test("a fatal alert ends a compacted transport; a forged or replayed-from-elsewhere one does not")
    func alerts() throws {
        let (client, server, link) = try connectedPair(
            suite: suites[0], clientCompacts: true, serverCompacts: true)
        // Forged: a sealed alert with one ciphertext bit flipped.
        client.sendRecord(type: 21, plaintext: [2, 40])
        var buffer = [UInt8](repeating: 0, count: 1500)
        let n = try #require(buffer.withUnsafeMutableBytes { client.pollDatagram(into: $0) })
        var forged = Array(buffer[0..<n])
        forged[n - 1] ^= 1
        forged.withUnsafeBytes { server.handle(datagram: $0, now: link.now) }
        #expect(server.state == .connected)
        // An alert of another association (same epoch and sequence, other keys) is ignored.
        let (other, _, _) = try connectedPair(suite: suites[0], clientCompacts: true, serverCompacts: true)
        other.close()
        let m = try #require(buffer.withUnsafeMutableBytes { other.pollDatagram(into: $0) })
        buffer.withUnsafeBytes { server.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<m]), now: link.now) }
        #expect(server.state == .connected)
        // The genuine one.
        forged[n - 1] ^= 1
        forged.withUnsafeBytes { server.handle(datagram: $0, now: link.now) }
        guard case .failed(.handshakeFailed) = server.state else {
            Issue.record("server state \(server.state)")
            return
        }
    }
}
