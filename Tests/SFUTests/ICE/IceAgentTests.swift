import Reactor
import Testing

@testable import SFU

/// One client agent and one lite agent over an in-memory network with a virtual clock.
final class IcePair {
    let lite = IceLiteAgent(localUfrag: "srvU", localPassword: "serverpassword0123456789", remoteUfrag: "cliU",
                            remotePassword: "clientpassword0123456789")
    let client: IceClientAgent
    var clientAddress = SocketAddress(ip: "10.0.0.2", port: 50000)!
    let serverAddress = SocketAddress(ip: "10.0.0.1", port: 3478)!
    var now = Instant(nanoseconds: 1_000_000_000)
    var out = [UInt8](repeating: 0, count: 1500)
    var reply = [UInt8](repeating: 0, count: 1500)
    var nominations = 0
    /// Drop every datagram from the client while true.
    var blackhole = false
    /// Drop this fraction of datagrams in each direction, from a seeded generator.
    var lossRate = 0.0
    var rng = SplitMixRandom(seed: 5)

    func lost() -> Bool {
        lossRate > 0 && Double(rng.next() % 1000) < lossRate * 1000
    }

    init(candidates: [SocketAddress]? = nil) {
        client = IceClientAgent(
            localUfrag: "cliU", localPassword: "clientpassword0123456789", remoteUfrag: "srvU",
            remotePassword: "serverpassword0123456789",
            remoteCandidates: candidates ?? [SocketAddress(ip: "10.9.9.9", port: 1)!, SocketAddress(ip: "10.0.0.1", port: 3478)!],
            tieBreaker: 0x1234_5678_9ABC_DEF0)
    }

    /// Delivers everything the client wants to send now; the server answers at once.
    func pump() {
        while let (n, to) = out.withUnsafeMutableBytes({ client.poll(now: now, out: $0) }) {
            guard !blackhole, to == serverAddress, !lost() else { continue }
            let r = out.withUnsafeBytes { o in
                reply.withUnsafeMutableBytes { rep in
                    lite.handle(stun: UnsafeRawBufferPointer(rebasing: o[0..<n]), from: clientAddress, now: now, reply: rep)
                }
            }
            if r.selectedAddressChanged { nominations += 1 }
            if r.replyLength > 0, !lost() {
                _ = reply.withUnsafeBytes { rep in
                    out.withUnsafeMutableBytes { o in
                        client.handle(stun: UnsafeRawBufferPointer(rebasing: rep[0..<r.replyLength]), from: serverAddress,
                                      now: now, reply: o)
                    }
                }
            }
        }
    }

    /// The lite agent's confirmation request that is due now, if any.
    func pollProbe() -> (bytes: [UInt8], to: SocketAddress)? {
        var buf = [UInt8](repeating: 0, count: 1500)
        guard let (n, to) = buf.withUnsafeMutableBytes({ lite.pollProbe(now: now, out: $0) }) else { return nil }
        return (Array(buf[0..<n]), to)
    }

    /// The client agent's answer to a request from the server (nil when it does not answer).
    func clientAnswer(_ request: [UInt8]) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 1500)
        let n = request.withUnsafeBytes { r in
            buf.withUnsafeMutableBytes { client.handle(stun: r, from: serverAddress, now: now, reply: $0) }
        }
        return n > 0 ? Array(buf[0..<n]) : nil
    }

    /// Advances the virtual clock to the client's next wake-up (bounded by `limit`).
    func run(until limit: Instant) {
        pump()
        while let wake = client.nextWakeUp, wake <= limit {
            now = max(now, wake)
            pump()
        }
        now = max(now, limit)
        pump()
    }
}

@Suite("ICE agents")
struct IceAgentTests {
    @Test("client and lite agent connect in memory and agree on the addresses")
    func connect() {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        #expect(p.client.state == .connected)
        #expect(p.client.selectedAddress == p.serverAddress)
        #expect(p.lite.selectedAddress == p.clientAddress)
        #expect(p.lite.isAddressValidated(p.clientAddress))
        #expect(p.nominations == 1)
    }

    @Test("consent stays fresh while the client refreshes it, and expires 30 s after the last check")
    func consent() {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        p.run(until: p.now + .seconds(60))
        #expect(p.client.state == .connected)
        #expect(!p.lite.consentExpired(now: p.now))
        let last = p.lite.lastConsent!
        #expect(p.now - last < .seconds(6))
        p.blackhole = true
        #expect(!p.lite.consentExpired(now: last + .seconds(29)))
        #expect(p.lite.consentExpired(now: last + .seconds(30)))
        p.run(until: p.now + .seconds(40))
        #expect(p.client.state == .failed)
    }

    @Test("client and lite agent still connect and keep consent with 30% of datagrams lost")
    func lossy() {
        let p = IcePair()
        p.lossRate = 0.3
        p.run(until: p.now + .seconds(5))
        #expect(p.client.state == .connected)
        #expect(p.lite.selectedAddress == p.clientAddress)
        p.run(until: p.now + .seconds(120))
        #expect(p.client.state == .connected)
        #expect(p.lite.sendAddress(now: p.now) == p.clientAddress)
    }

    @Test("after an ICE restart only the new credentials are accepted, and the old path keeps media")
    func restart() throws {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        p.lite.restart(localUfrag: "srv2", localPassword: "newserverpassword012345", remoteUfrag: "cli2",
                       remotePassword: nil)
        #expect(p.lite.selectedAddress == p.clientAddress)
        var r = handle(p.lite, try clientCheck(useCandidate: true), from: p.clientAddress, now: p.now)
        #expect(r.rejection == .unknownUsername)
        r = handle(p.lite, try clientCheck(useCandidate: true, password: "newserverpassword012345", username: "srv2:cli2"),
                   from: p.clientAddress, now: p.now)
        #expect(r.rejection == nil)
    }

    @Test("a client with no reachable candidate fails after its check timeout")
    func failure() {
        let p = IcePair(candidates: [SocketAddress(ip: "10.9.9.9", port: 1)!])
        p.run(until: p.now + .seconds(30))
        #expect(p.client.state == .failed)
        #expect(p.client.nextWakeUp == nil)
    }

    @Test("an unanswered check is retried at the quick interval, then at the backoff interval, until its tries run out")
    func backoff() {
        let p = IcePair(candidates: [SocketAddress(ip: "10.0.0.1", port: 3478)!])
        p.client.retransmitInterval = .milliseconds(50)
        p.client.backoffAfter = 10
        p.client.backoffInterval = .milliseconds(200)
        p.client.maxAttempts = 60
        p.client.checkTimeout = .seconds(15)
        p.blackhole = true
        let start = p.now
        var sent: [Instant] = []
        while p.client.state == .checking, p.now - start < .seconds(20) {
            while p.out.withUnsafeMutableBytes({ p.client.poll(now: p.now, out: $0) }) != nil { sent.append(p.now) }
            guard let wake = p.client.nextWakeUp else { break }
            p.now = max(p.now, wake)
        }
        let gaps = zip(sent.dropFirst(), sent).map { ($0 - $1).nanoseconds / 1_000_000 }
        #expect(sent.count == 60)
        #expect(gaps.prefix(9).allSatisfy { $0 == 50 }, "\(gaps)")
        #expect(gaps.dropFirst(9).allSatisfy { $0 == 200 }, "\(gaps)")
        #expect(p.client.state == .failed)
        // The last try gets its full interval to be answered before the pair fails.
        #expect(p.now - sent[59] == .milliseconds(200))
    }

    @Test("a peer that moves is followed only after it answers the server's check from the new address")
    func mobility() throws {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        let newAddress = SocketAddress(ip: "10.0.0.77", port: 41000)!
        // A check from the new address without USE-CANDIDATE validates it but selects nothing.
        let plain = try clientCheck(useCandidate: false, id: 1)
        var r = handle(p.lite, plain, from: newAddress, now: p.now)
        #expect(r.replyLength > 0 && !r.selectedAddressChanged)
        #expect(p.lite.selectedAddress == p.clientAddress)
        #expect(p.lite.isAddressValidated(newAddress))
        #expect(p.lite.probeAddress == nil)
        // A nominating check with a wrong password is refused and changes nothing.
        let forged = try clientCheck(useCandidate: true, password: "not-the-password", id: 2)
        r = handle(p.lite, forged, from: SocketAddress(ip: "10.6.6.6", port: 1)!, now: p.now)
        #expect(r.rejection == .badIntegrity)
        #expect(p.lite.selectedAddress == p.clientAddress)
        // A valid nominating check is answered, but media stays until the address is confirmed.
        r = handle(p.lite, try clientCheck(useCandidate: true, id: 3), from: newAddress, now: p.now)
        #expect(r.replyLength > 0 && !r.selectedAddressChanged && r.rejection == nil)
        #expect(p.lite.selectedAddress == p.clientAddress)
        #expect(p.lite.sendAddress(now: p.now) == p.clientAddress)
        #expect(p.lite.probeAddress == newAddress)
        // The server's check goes to the new address; the client answers it from there.
        let probe = try #require(p.pollProbe())
        #expect(probe.to == newAddress)
        try withStun(probe.bytes) { m in
            #expect(m.type == .bindingRequest)
            #expect(m.username == "cliU:srvU")
            #expect(m.iceControlled != nil && m.iceControlling == nil && !m.useCandidate)
            try m.validateMessageIntegrity(key: Array("clientpassword0123456789".utf8))
            try m.validateFingerprint()
        }
        let answer = try #require(p.clientAnswer(probe.bytes))
        r = handle(p.lite, answer, from: newAddress, now: p.now)
        #expect(r.selectedAddressChanged && r.rejection == nil && r.replyLength == 0)
        #expect(p.lite.selectedAddress == newAddress)
        #expect(p.lite.lastConsent == p.now)
        #expect(p.lite.probeAddress == nil)
        #expect(p.pollProbe() == nil)
    }

    @Test("a replayed USE-CANDIDATE from a new address moves no media: unanswered if recent, unconfirmed otherwise")
    func spoofedNomination() throws {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        let victim = SocketAddress(ip: "192.0.2.66", port: 9)!
        // The client's own nominating check, seen on the path and replayed with the victim's
        // address as source: its transaction ID was just used from the client's address.
        let check = try clientCheck(useCandidate: true, id: 10)
        var r = handle(p.lite, check, from: p.clientAddress, now: p.now)
        #expect(r.replyLength > 0)
        r = handle(p.lite, check, from: p.clientAddress, now: p.now)
        #expect(r.replyLength > 0, "a retransmission from the same address is answered again")
        r = handle(p.lite, check, from: victim, now: p.now)
        #expect(r.rejection == .replayedTransaction && r.replyLength == 0)
        #expect(!p.lite.isAddressValidated(victim) && p.lite.probeAddress == nil)

        // An older check (its ID no longer remembered) is answered, and starts a confirmation
        // the victim never answers: media stays with the client throughout.
        for i in 0..<8 { _ = handle(p.lite, try clientCheck(useCandidate: true, id: 100 + UInt64(i)), from: p.clientAddress, now: p.now) }
        r = handle(p.lite, check, from: victim, now: p.now)
        #expect(r.rejection == nil && !r.selectedAddressChanged)
        #expect(p.lite.probeAddress == victim)
        // A forged answer: from another address, or not signed with the client's password.
        let probe = try #require(p.pollProbe())
        let answer = try #require(p.clientAnswer(probe.bytes))
        r = handle(p.lite, answer, from: SocketAddress(ip: "192.0.2.99", port: 9)!, now: p.now)
        #expect(!r.selectedAddressChanged)
        let unsigned = try buildStun(.bindingSuccess, try withStun(probe.bytes) { $0.transactionID }) { b in
            b.addXorMappedAddress(victim)
            b.addMessageIntegrity(key: Array("serverpassword0123456789".utf8))
            b.addFingerprint()
        }
        r = handle(p.lite, unsigned, from: victim, now: p.now)
        #expect(r.rejection == .badIntegrity && !r.selectedAddressChanged)
        // Retried every 250 ms, five times in all, then dropped.
        var sends = 1
        let start = p.now
        while p.lite.probeAddress != nil, p.now - start < .seconds(10) {
            p.now = p.now + .milliseconds(50)
            if p.pollProbe() != nil { sends += 1 }
            #expect(p.lite.sendAddress(now: p.now) == p.clientAddress)
        }
        #expect(sends == IceLiteAgent.probeAttempts)
        #expect(p.lite.probeAddress == nil)
        #expect(p.lite.selectedAddress == p.clientAddress)
        // The late answer to a dropped probe moves nothing.
        r = handle(p.lite, answer, from: victim, now: p.now)
        #expect(!r.selectedAddressChanged && p.lite.selectedAddress == p.clientAddress)
    }

    @Test("after DTLS ran with one address, a first nomination of another is confirmed before it is selected")
    func firstNominationAfterReachable() throws {
        let lite = IcePair().lite
        let own = SocketAddress(ip: "10.0.0.2", port: 50000)!
        let victim = SocketAddress(ip: "192.0.2.66", port: 9)!
        _ = handle(lite, try clientCheck(useCandidate: false, id: 1), from: own, now: Instant(nanoseconds: 1))
        lite.reachableAddress = own
        var r = handle(lite, try clientCheck(useCandidate: true, id: 2), from: victim, now: Instant(nanoseconds: 2))
        #expect(r.replyLength > 0 && !r.selectedAddressChanged)
        #expect(lite.selectedAddress == nil && lite.probeAddress == victim)
        r = handle(lite, try clientCheck(useCandidate: true, id: 3), from: own, now: Instant(nanoseconds: 3))
        #expect(r.selectedAddressChanged && lite.selectedAddress == own)
    }

    @Test("address changes are limited to 4 a minute per session; the next is refused until the window passes")
    func moveRateLimit() throws {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        var id: UInt64 = 1000
        /// Nominates from `address` and answers the server's check from there.
        func move(to address: SocketAddress) throws -> (moved: Bool, rateLimited: Bool) {
            id += 1
            let r = handle(p.lite, try clientCheck(useCandidate: true, id: id), from: address, now: p.now)
            guard let probe = p.pollProbe(), let answer = p.clientAnswer(probe.bytes) else {
                return (false, r.result.moveRateLimited)
            }
            return (handle(p.lite, answer, from: address, now: p.now).selectedAddressChanged, r.result.moveRateLimited)
        }
        let start = p.now
        for i in 0..<IceLiteAgent.maxAddressChanges {
            p.now = start + .seconds(UInt64(i))
            #expect(try move(to: SocketAddress(ip: "10.0.1.\(i + 1)", port: 5000)!) == (true, false))
        }
        let fifth = SocketAddress(ip: "10.0.1.99", port: 5000)!
        p.now = start + .seconds(30)
        #expect(try move(to: fifth) == (false, true))
        #expect(p.lite.selectedAddress == SocketAddress(ip: "10.0.1.4", port: 5000)!)
        // 60 s after the first move, one more is allowed.
        p.now = start + IceLiteAgent.addressChangeWindow
        #expect(try move(to: fifth) == (true, false))
        #expect(p.lite.selectedAddress == fifth)
        #expect(try move(to: p.clientAddress) == (false, true), "still 4 in the last minute")
    }

    @Test("after an ICE restart a move is confirmed with the new credentials")
    func restartThenMove() throws {
        let p = IcePair()
        p.run(until: p.now + .seconds(2))
        p.lite.restart(localUfrag: "srv2", localPassword: "newserverpassword012345", remoteUfrag: "cli2",
                       remotePassword: "newclientpassword012345")
        let moved = SocketAddress(ip: "10.0.0.88", port: 42000)!
        let check = try clientCheck(
            useCandidate: true, password: "newserverpassword012345", username: "srv2:cli2", id: 77)
        _ = handle(p.lite, check, from: moved, now: p.now)
        let probe = try #require(p.pollProbe())
        try withStun(probe.bytes) { m in
            #expect(m.username == "cli2:srv2")
            try m.validateMessageIntegrity(key: Array("newclientpassword012345".utf8))
        }
        let answer = try buildStun(.bindingSuccess, try withStun(probe.bytes) { $0.transactionID }) { b in
            b.addXorMappedAddress(p.serverAddress)
            b.addMessageIntegrity(key: Array("newclientpassword012345".utf8))
            b.addFingerprint()
        }
        #expect(handle(p.lite, answer, from: moved, now: p.now).selectedAddressChanged)
        #expect(p.lite.selectedAddress == moved)
    }

    @Test("a request for an unknown ufrag gets 401, one without credentials 400")
    func unknownUfrag() throws {
        let lite = IcePair().lite
        let from = SocketAddress(ip: "10.0.0.3", port: 5)!
        let wrongUser = try clientCheck(useCandidate: true, username: "otherU:cliU")
        var r = handle(lite, wrongUser, from: from, now: Instant(nanoseconds: 1))
        #expect(r.rejection == .unknownUsername)
        #expect(try errorCode(r) == 401)
        let wrongRemote = try clientCheck(useCandidate: true, username: "srvU:someoneElse")
        r = handle(lite, wrongRemote, from: from, now: Instant(nanoseconds: 1))
        #expect(r.rejection == .unknownUsername)
        let bare = try buildStun(.bindingRequest, StunTransactionID(hi: 1, lo: 2)) { $0.addFingerprint() }
        r = handle(lite, bare, from: from, now: Instant(nanoseconds: 1))
        #expect(r.rejection == .missingCredentials)
        #expect(try errorCode(r) == 400)
        #expect(lite.selectedAddress == nil)
        #expect(!lite.isAddressValidated(from))
    }

    @Test("unknown comprehension-required attributes are answered 420 with UNKNOWN-ATTRIBUTES")
    func unknownAttribute() throws {
        let lite = IcePair().lite
        let req = try buildStun(.bindingRequest, StunTransactionID(hi: 1, lo: 2)) { b in
            b.addUsername("srvU:cliU")
            [UInt8]([1, 2, 3, 4]).withUnsafeBytes { b.addAttribute(type: 0x0031, value: $0) }
            b.addMessageIntegrity(key: Array("serverpassword0123456789".utf8))
            b.addFingerprint()
        }
        let r = handle(lite, req, from: SocketAddress(ip: "10.0.0.3", port: 5)!, now: Instant(nanoseconds: 1))
        #expect(r.rejection == .unknownAttributes)
        #expect(try errorCode(r) == 420)
        var listed: [UInt16] = []
        try withStun(r.reply) { m in
            m.forEachAttribute { t, v in
                if t == StunAttribute.unknownAttributes { listed.append(UInt16(v[0]) << 8 | UInt16(v[1])) }
            }
            try m.validateMessageIntegrity(key: Array("serverpassword0123456789".utf8))
            try m.validateFingerprint()
        }
        #expect(listed == [0x0031])
    }

    @Test("a success response carries the source as XOR-MAPPED-ADDRESS and is signed")
    func successShape() throws {
        let lite = IcePair().lite
        let from = SocketAddress(ip: "::1", port: 6000)!
        let r = handle(lite, try clientCheck(useCandidate: true), from: from, now: Instant(nanoseconds: 1))
        #expect(r.rejection == nil && r.selectedAddressChanged)
        try withStun(r.reply) { m in
            #expect(m.type == .bindingSuccess)
            #expect(m.xorMappedAddress == from)
            try m.validateMessageIntegrity(key: Array("serverpassword0123456789".utf8))
            try m.validateFingerprint()
        }
    }

    @Test("the ufrag routing helper extracts the server half of USERNAME")
    func ufragRouting() throws {
        try withStun(try clientCheck(useCandidate: true)) { m in
            #expect(IceLiteAgent.localUfrag(in: m) == "srvU")
            let bytes = IceLiteAgent.localUfragBytes(in: m)!
            #expect(Array(bytes) == Array("srvU".utf8))
        }
    }

    @Test("the client answers a full-ICE peer's own checks with its password")
    func clientAnswersChecks() throws {
        let p = IcePair()
        let req = try buildStun(.bindingRequest, StunTransactionID(hi: 9, lo: 9)) { b in
            b.addUsername("cliU:srvU")
            b.addIceControlled(1)
            b.addMessageIntegrity(key: Array("clientpassword0123456789".utf8))
            b.addFingerprint()
        }
        var reply = [UInt8](repeating: 0, count: 1500)
        let n = req.withUnsafeBytes { r in
            reply.withUnsafeMutableBytes { p.client.handle(stun: r, from: p.serverAddress, now: p.now, reply: $0) }
        }
        #expect(n > 0)
        try withStun(Array(reply[0..<n])) { m in
            #expect(m.type == .bindingSuccess)
            #expect(m.xorMappedAddress == p.serverAddress)
            try m.validateMessageIntegrity(key: Array("clientpassword0123456789".utf8))
        }
    }

    @Test("garbage never crashes either agent and never selects an address")
    func garbage() {
        let p = IcePair()
        var rng = SplitMixRandom(seed: 99)
        var buf = [UInt8](repeating: 0, count: 1500)
        for _ in 0..<5000 {
            var b = (0..<Int(rng.next() % 100)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if b.count >= 20 {
                b[0] = 0; b[1] = 1; b[4] = 0x21; b[5] = 0x12; b[6] = 0xa4; b[7] = 0x42
                b[2] = 0; b[3] = UInt8(b.count - 20)
            }
            b.withUnsafeBytes { raw in
                buf.withUnsafeMutableBytes { out in
                    _ = p.lite.handle(stun: raw, from: p.clientAddress, now: p.now, reply: out)
                    _ = p.client.handle(stun: raw, from: p.serverAddress, now: p.now, reply: out)
                }
            }
        }
        #expect(p.lite.selectedAddress == nil)
        #expect(p.client.state == .checking)
    }
}

/// The lite agent's answer to one request: its result and the reply bytes.
private struct Answer {
    var result: IceLiteAgent.Result
    var reply: [UInt8]
    var rejection: IceLiteAgent.Rejection? { result.rejection }
    var replyLength: Int { result.replyLength }
    var selectedAddressChanged: Bool { result.selectedAddressChanged }
}

private func handle(_ lite: IceLiteAgent, _ req: [UInt8], from: SocketAddress, now: Instant) -> Answer {
    var reply = [UInt8](repeating: 0, count: 1500)
    let r = req.withUnsafeBytes { raw in reply.withUnsafeMutableBytes { lite.handle(stun: raw, from: from, now: now, reply: $0) } }
    return Answer(result: r, reply: Array(reply[0..<r.replyLength]))
}

private func errorCode(_ r: Answer) throws -> Int? {
    try withStun(r.reply) { m in
        #expect(m.type == .bindingError)
        try m.validateFingerprint()
        return m.errorCode
    }
}

private func clientCheck(
    useCandidate: Bool, password: String = "serverpassword0123456789", username: String = "srvU:cliU", id: UInt64? = nil
) throws -> [UInt8] {
    try buildStun(.bindingRequest, StunTransactionID(hi: 7, lo: id ?? UInt64(username.count))) { b in
        b.addUsername(username)
        b.addPriority(IceClientAgent.peerReflexivePriority)
        b.addIceControlling(42)
        if useCandidate { b.addUseCandidate() }
        b.addMessageIntegrity(key: Array(password.utf8))
        b.addFingerprint()
    }
}
