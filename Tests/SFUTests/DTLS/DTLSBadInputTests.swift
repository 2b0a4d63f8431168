import COpenSSL
import PropertyBased
import Reactor
import Testing

@testable import SFU

private let identityA = try! DTLSIdentity.generate()
private let identityB = try! DTLSIdentity.generate()

@Suite("DTLS bad input")
struct DTLSBadInputTests {
    @Test("the record scanner accepts framed records and rejects truncated or lying ones")
    func recordScanner() {
        func scan(_ b: [UInt8]) -> DTLSRecordScanner.Summary? { b.withUnsafeBytes { DTLSRecordScanner.scan($0) } }
        let header: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]
        #expect(scan(header + [1, 2, 3]) == .init(records: 1, applicationDataRecords: 0))
        var two = header + [1, 2, 3] + [23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
        #expect(scan(two) == .init(records: 2, applicationDataRecords: 1))
        two.removeLast()
        #expect(scan(two) == nil)  // second header truncated
        #expect(scan(header + [1, 2]) == nil)  // length says 3, 2 present
        #expect(scan(Array(header.prefix(12))) == nil)
        #expect(scan([]) == nil)
        var wrongType = header + [1, 2, 3]
        wrongType[0] = 24
        #expect(scan(wrongType) == nil)
        var tlsVersion = header + [1, 2, 3]
        tlsVersion[1] = 0x03
        #expect(scan(tlsVersion) == nil)
    }

    @Test("the record walk reads each header's type, epoch, 48-bit sequence and length, and stops at a fragment or an overrun")
    func recordWalk() {
        let first: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 7, 0, 2, 0xAA, 0xBB]
        let second: [UInt8] = [21, 0xFE, 0xFD, 0, 1, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0, 0]
        func walk(_ b: [UInt8]) -> (headers: [DTLSRecordHeader], complete: Bool) {
            b.withUnsafeBytes { raw in
                var records = DTLSRecordHeader.records(in: raw)
                var headers: [DTLSRecordHeader] = []
                while let h = records.next() { headers.append(h) }
                return (headers, records.isComplete)
            }
        }
        let both = walk(first + second)
        #expect(both.complete)
        #expect(both.headers.map(\.offset) == [0, 15])
        #expect(both.headers.map(\.contentType) == [22, 21])
        #expect(both.headers.map(\.epoch) == [0, 1])
        #expect(both.headers.map(\.sequenceNumber) == [7, 0x0102_0304_0506])
        #expect(both.headers.map(\.bodyLength) == [2, 0])
        let fragment = walk(first + second.prefix(12))
        #expect(fragment.headers.count == 1 && !fragment.complete)
        let overrun = walk(Array(first.dropLast()))
        #expect(overrun.headers.isEmpty && !overrun.complete)
    }

    @Test("random bytes and truncated records fed during and after a handshake never crash or stop it")
    func garbageDoesNotStopHandshake() async throws {
        await propertyCheck(count: 20, input: Gen.uint64()) { seed in
            let pair: (client: DTLSTransport, server: DTLSTransport)
            do { pair = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB) } catch {
                Issue.record("setup: \(error)")
                return
            }
            let (client, server) = pair
            var rng = SplitMixRandom(seed: seed)
            let link = DTLSTestLink(client: client, server: server, seed: seed)
            client.startHandshake(now: link.now)
            var garbage = 0
            // Interleave random datagrams (some shaped like DTLS headers) with the real ones.
            let ok = link.run(maxSteps: 2_000) {
                if Int.random(in: 0..<3, using: &rng) == 0 {
                    var junk = rng.bytes(Int.random(in: 0...300, using: &rng))
                    if junk.count > 13, Bool.random(using: &rng) {
                        junk[0] = UInt8.random(in: 20...23, using: &rng)
                        junk[1] = 0xFE
                        junk[3] = 0xFF  // an epoch nobody uses: framed, but not for this session
                        junk[4] = 0xFF
                    }
                    let target = Bool.random(using: &rng) ? client : server
                    junk.withUnsafeBytes { target.handle(datagram: $0, now: link.now) }
                    garbage += 1
                }
                return link.bothConnected
            }
            #expect(ok, "seed \(seed)")
            #expect(client.counters.garbageDatagrams + server.counters.garbageDatagrams <= garbage)
            // After the handshake, truncated copies of real traffic and random records are dropped.
            for _ in 0..<50 {
                var junk = rng.bytes(Int.random(in: 13...200, using: &rng))
                junk[0] = 23
                junk[1] = 0xFE
                junk[3] = 0
                junk[4] = 1  // current epoch: must fail the MAC and be discarded silently
                junk[11] = UInt8((junk.count - 13) >> 8)
                junk[12] = UInt8((junk.count - 13) & 0xff)
                junk.withUnsafeBytes { server.handle(datagram: $0, now: link.now) }
            }
            #expect(server.state == .connected)
            #expect(client.state == .connected)
        }
    }

    @Test(
        "forged short records in the encrypted epoch are dropped, not fatal, with either AEAD suite",
        arguments: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
    func shortEncryptedRecords(suite: String) throws {
        // OpenSSL 3.0 fails the association on an epoch-1 record shorter than nonce + tag;
        // the transport must screen them out. Lengths 0...80 of alert and application data.
        var rng = SplitMixRandom(seed: 11)
        let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
        _ = client.ssl.map { SSL_set_cipher_list($0, suite) }  // the server follows the client's order
        let link = DTLSTestLink(client: client, server: server)
        client.startHandshake(now: link.now)
        #expect(link.run { link.bothConnected })
        // Connected transports run on their compact record layer, with the suite asked for.
        let nid = suite.contains("CHACHA") ? NID_chacha20_poly1305 : NID_aes_128_gcm
        #expect(server.ssl == nil && server.recordLayer?.cipherNID == nid)
        #expect(client.ssl == nil && client.recordLayer?.cipherNID == nid)
        for type in [UInt8(21), 22, 23] {
            for length in 0...80 {
                let junk = [type, 0xFE, 0xFD, 0, 1] + rng.bytes(6) + [0, UInt8(length)] + rng.bytes(length)
                junk.withUnsafeBytes { server.handle(datagram: $0, now: link.now) }
                junk.withUnsafeBytes { client.handle(datagram: $0, now: link.now) }
            }
        }
        #expect(server.state == .connected && client.state == .connected)
        #expect(server.counters.garbageDatagrams > 0)
        // A genuine close_notify (the shortest real encrypted record) still gets through.
        client.close()
        link.run(maxSteps: 10) { server.state == .closed }
        #expect(server.state == .closed)
    }

    @Test("application data from the peer is counted and ignored")
    func applicationDataIgnored() throws {
        let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
        let link = DTLSTestLink(client: client, server: server)
        client.startHandshake(now: link.now)
        #expect(link.run { link.bothConnected })
        let message: [UInt8] = Array("not a data channel".utf8)
        for _ in 0..<3 { client.sendRecord(type: 23, plaintext: message) }
        link.run(maxSteps: 10) { false }
        #expect(server.counters.applicationDataRecords == 3)
        #expect(server.state == .connected)
        #expect(server.pollEvent() == nil)
    }

    @Test("every handshake datagram replayed after the handshake leaves both sides connected")
    func replayedHandshake() throws {
        let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
        // Record the whole clean handshake, then replay it (an attacker on the path, or a
        // network that duplicates late).
        var recorded: [(toServer: Bool, bytes: [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: 1500)
        client.startHandshake(now: Instant.now())
        for _ in 0..<10 where !(client.state == .connected && server.state == .connected) {
            for (from, to, toServer) in [(client, server, true), (server, client, false)] {
                while let n = buffer.withUnsafeMutableBytes({ from.pollDatagram(into: $0) }) {
                    recorded.append((toServer, Array(buffer[0..<n])))
                    buffer.withUnsafeBytes {
                        to.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: Instant.now())
                    }
                }
            }
        }
        #expect(client.state == .connected && server.state == .connected)
        #expect(client.pollEvent() != nil && server.pollEvent() != nil)  // the one .connected each
        let link = DTLSTestLink(client: client, server: server)
        for _ in 0..<3 {
            link.inFlight += recorded.shuffled()
            link.run(maxSteps: 200) { false }
        }
        #expect(client.state == .connected && server.state == .connected)
        #expect(link.clientEvents.isEmpty && link.serverEvents.isEmpty)  // no second .connected, no failure
        client.close()
        link.run(maxSteps: 20) { server.state == .closed }
        #expect(server.state == .closed)
    }

    @Test("datagrams after close or failure are counted and ignored")
    func afterClose() throws {
        let (client, server) = try dtlsTestPair(clientIdentity: identityA, serverIdentity: identityB)
        let link = DTLSTestLink(client: client, server: server)
        client.startHandshake(now: link.now)
        #expect(link.run { link.bothConnected })
        server.close()
        let junk: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        junk.withUnsafeBytes { server.handle(datagram: $0, now: link.now) }
        #expect(server.counters.datagramsAfterClose == 1)
        #expect(server.pollEvent() == nil)
    }
}
