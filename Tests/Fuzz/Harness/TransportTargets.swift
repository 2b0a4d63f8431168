import Reactor

@testable import SFU

/// ICE-lite and DTLS record handling: `IceLiteAgent.handle` over a sequence of checks (some
/// signed by the harness so the fuzzer gets past MESSAGE-INTEGRITY), the DTLS record
/// scanner, and the record layer of a real handshake's keys.
enum TransportTargets {
    static let serverUfrag = "srvU"
    static let serverPassword = Array("serverpassword0123456789".utf8)
    static let clientUfrag = "cliU"
    static let sources: [SocketAddress] = [
        SocketAddress(ip: "192.0.2.1", port: 5000)!, SocketAddress(ip: "192.0.2.1", port: 5001)!,
        SocketAddress(ip: "198.51.100.7", port: 40000)!, SocketAddress(ip: "2001:db8::1", port: 5000)!,
    ]

    /// Ops: a flag byte (source, signed or raw, time step), then a body. Signed checks are
    /// built here with the session's credentials and the flags' attributes.
    static func ice(_ input: UnsafeRawBufferPointer) {
        let agent = IceLiteAgent(
            localUfrag: serverUfrag, localPassword: String(decoding: serverPassword, as: UTF8.self),
            remoteUfrag: clientUfrag, remotePassword: "clientpassword0123456789")
        var cursor = FuzzInput(input)
        var now = Instant(nanoseconds: 1_000_000_000_000)
        let steps: [Duration] = [.milliseconds(0), .milliseconds(50), .seconds(5), .seconds(31)]
        var request = [UInt8](repeating: 0, count: 1500)
        var reply = [UInt8](repeating: 0, count: 512)
        var ops = 0
        while !cursor.isAtEnd, ops < 64 {
            ops += 1
            let flags = cursor.byte()
            let source = sources[Int(flags & 3)]
            now = now + steps[Int(flags >> 2) & 3]
            let bytes: UnsafeRawBufferPointer
            var requestLength = 0
            if flags & 0x10 != 0 {
                // A check the agent can authenticate (or, by flag, one with the wrong user).
                let attributes = cursor.byte()
                let tid = StunTransactionID(hi: UInt32(cursor.u16()), lo: UInt64(cursor.u32()))
                let extra = cursor.chunk()
                requestLength = request.withUnsafeMutableBytes { out -> Int in
                    var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: tid)
                    b.addUsername(attributes & 0x40 != 0 ? "\(serverUfrag):other" : "\(serverUfrag):\(clientUfrag)")
                    b.addPriority(0x6E00_1EFF)
                    if attributes & 1 != 0 { b.addUseCandidate() }
                    if attributes & 2 != 0 { b.addIceControlling(0x0102_0304_0506_0708) }
                    if attributes & 4 != 0 { b.addIceControlled(0x0807_0605_0403_0201) }
                    if attributes & 8 != 0, extra.count >= 2 {
                        // An attribute of the input's type and value (comprehension-required or not).
                        let type = UInt16(extra[0]) << 8 | UInt16(extra[1])
                        b.addAttribute(type: type, value: UnsafeRawBufferPointer(rebasing: extra[2...]))
                    }
                    if attributes & 0x20 == 0 { b.addMessageIntegrity(key: serverPassword) }
                    if attributes & 0x80 == 0 { b.addFingerprint() }
                    return (try? b.finish()) ?? 0
                }
                bytes = request.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[0..<requestLength]) }
            } else {
                bytes = cursor.chunk()
            }
            let wasSelected = agent.selectedAddress
            let result = request.withUnsafeBytes { _ in
                reply.withUnsafeMutableBytes { agent.handle(stun: bytes, from: source, now: now, reply: $0) }
            }
            check(result.replyLength <= reply.count, "reply longer than its buffer")
            if result.replyLength > 0 {
                reply.withUnsafeBytes { r in
                    let answer = try? StunMessage(parsing: UnsafeRawBufferPointer(rebasing: r[0..<result.replyLength]))
                    check(answer != nil, "the agent's reply does not parse")
                    check((try? answer?.validateFingerprint()) != nil, "the agent's reply has a bad FINGERPRINT")
                }
            }
            if result.selectedAddressChanged {
                check(result.rejection == nil, "a rejected check changed the selected address")
                check(agent.selectedAddress == source && wasSelected != source, "selection changed to another address")
            } else {
                check(agent.selectedAddress == wasSelected, "selection changed without being reported")
            }
            if let selected = agent.selectedAddress {
                check(agent.isAddressValidated(selected), "media goes to an address that never passed a check")
            }
            if agent.sendAddress(now: now) != nil { check(!agent.consentExpired(now: now), "sending after expiry") }
        }
    }

    /// A connected pair's record layers (one real handshake at start-up).
    nonisolated(unsafe) static var layers: (client: DTLSRecordLayer, server: DTLSRecordLayer)?
    nonisolated(unsafe) static var identity: DTLSIdentity?

    static func setUpDTLS() {
        guard layers == nil else { return }
        let id = try! DTLSIdentity.generate()
        identity = id
        let fp = (id.localFingerprint.algorithm, id.localFingerprint.value)
        let client = try! DTLSTransport(identity: id, role: .client, remoteFingerprint: fp)
        let server = try! DTLSTransport(identity: id, role: .server, remoteFingerprint: fp)
        var now = Instant(nanoseconds: 1_000_000_000)
        client.startHandshake(now: now)
        var buffer = [UInt8](repeating: 0, count: 1500)
        for _ in 0..<20 where client.state != .connected || server.state != .connected {
            now = now + .milliseconds(1)
            for (from, to) in [(client, server), (server, client)] {
                while let n = buffer.withUnsafeMutableBytes({ from.pollDatagram(into: $0) }) {
                    buffer.withUnsafeBytes { to.handle(datagram: UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
                }
            }
        }
        guard let c = client.recordLayer, let s = server.recordLayer else {
            fatalError("harness: the DTLS pair did not connect (\(client.state), \(server.state))")
        }
        layers = (c, s)
    }

    static func dtls(_ input: UnsafeRawBufferPointer) {
        setUpDTLS()
        var cursor = FuzzInput(input)
        let mode = cursor.byte()
        let minimum = Int(cursor.byte())
        let datagram = cursor.rest()
        guard let (client, server) = layers else { return }
        // The scanner: whatever it accepts is a whole number of well-framed records.
        if let summary = DTLSRecordScanner.scan(datagram, minimumEncryptedRecord: minimum) {
            check(summary.records >= 1 && summary.applicationDataRecords <= summary.records, "scan \(summary)")
            check(summary.records * DTLSRecordHeader.length <= datagram.count, "more records than bytes")
            // Each record the scanner framed goes to the record layer, as a connected transport does.
            var offset = 0
            while offset + DTLSRecordHeader.length <= datagram.count {
                let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
                if let opened = server.open(datagram, recordAt: offset) {
                    check(opened.plaintext.count <= length - server.overhead, "plaintext longer than its record")
                }
                offset += DTLSRecordHeader.length + length
            }
            check(offset == datagram.count, "scanned records do not tile the datagram")
        }
        // Any offset, also past the end or mid-record, must be refused safely.
        _ = server.open(datagram, recordAt: Int(mode) - 16)
        _ = client.open(datagram, recordAt: minimum, withWriteKey: true)
        // Seal → open round trip with the other side's keys.
        if !datagram.isEmpty, datagram.count <= 1200 {
            var sealer = client
            let type: UInt8 = [21, 22, 23][Int(mode) % 3]
            guard let record = sealer.seal(type: type, plaintext: Array(datagram)) else {
                fatalError("invariant violated: seal failed")
            }
            check(record.withUnsafeBytes { DTLSRecordScanner.scan($0) } != nil, "a sealed record does not scan")
            let opened = record.withUnsafeBytes { server.open($0, recordAt: 0) }
            check(opened?.type == type && opened?.plaintext == Array(datagram), "seal/open round trip differs")
            // One flipped bit anywhere past the header must fail authentication.
            var tampered = record
            let bit = Int(mode) % (8 * (record.count - DTLSRecordHeader.length))
            tampered[DTLSRecordHeader.length + bit / 8] ^= UInt8(1 << (bit % 8))
            check(tampered.withUnsafeBytes { server.open($0, recordAt: 0) } == nil, "tampered record opened")
        }
        // A fresh server transport in the handshake: the datagram goes to the scanner, then OpenSSL.
        if mode & 0x80 != 0, let identity {
            let fp = (identity.localFingerprint.algorithm, identity.localFingerprint.value)
            let fresh = try! DTLSTransport(identity: identity, role: .server, remoteFingerprint: fp)
            fresh.handle(datagram: datagram, now: Instant(nanoseconds: 1_000_000_000))
            var buffer = [UInt8](repeating: 0, count: DTLSTransport.mtu)
            while let n = buffer.withUnsafeMutableBytes({ fresh.pollDatagram(into: $0) }) {
                check(n <= DTLSTransport.mtu, "DTLS datagram longer than the MTU")
            }
            while fresh.pollEvent() != nil {}
        }
    }
}
