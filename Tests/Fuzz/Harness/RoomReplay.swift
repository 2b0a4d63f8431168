import Glibc
import Reactor

@testable import SFU

/// The stateful receive path of a room: a real `RoomManager` (a new one per input) with a
/// publisher and a viewer set up from the real browser offers of `fixtures/sdp/`, connected
/// over ICE and a real DTLS handshake on demand, then the input replayed into it as
/// datagrams from chosen source addresses with an advancing virtual clock. Media and RTCP
/// from a connected peer are SRTP-protected with that peer's keys, so the fuzzer reaches
/// what the server does after decryption (fan-out, NACK answers, reports, RTX repair).
///
/// No sockets: the manager is sans-IO, so the harness calls `received`, `batchEnded` and
/// `tick` itself and drains the manager's send queue, reading the DTLS flights meant for a
/// client back from it and discarding the rest.
final class RoomReplay {
    nonisolated(unsafe) static var shared: RoomReplay?

    /// One client (publisher or viewer) of the input: the server's answer and, once
    /// connected, the client side of DTLS and SRTP.
    final class Peer {
        let sessionID: String
        let serverUfrag: String
        let serverPassword: [UInt8]
        let clientUfrag: String
        let fingerprint: SDPFingerprint
        /// SSRCs the server sends this viewer (from the answer), for feedback that names them.
        let outboundSSRCs: [UInt32]
        let address: Int
        var dtls: DTLSTransport?
        var srtp: SRTPContext?

        init(created: SessionCreated, clientUfrag: String, address: Int) {
            let answer = try! SDPParser.parse(created.answer)
            let media = answer.media[0]
            sessionID = created.sessionID
            let ice = answer.iceCredentials(of: media)!
            serverUfrag = ice.ufrag
            serverPassword = Array(ice.password.utf8)
            self.clientUfrag = clientUfrag
            fingerprint = answer.fingerprints(of: media).first!
            outboundSSRCs = answer.media.flatMap { $0.ssrcs.map(\.ssrc) }
            self.address = address
        }
    }

    let pool = BufferPool(slotSize: 2048, slotCount: 4096)
    let output: DatagramQueue
    let serverIdentity: DTLSIdentity
    let clientIdentity: DTLSIdentity
    let plainOffer: SessionDescription
    /// Chromium's three-layer simulcast offer (`a=rid` f, h, q; `a=simulcast:send`): an input
    /// whose set-up byte has 0x20 publishes with it, so RID placement and layer moves run.
    let simulcastOffer: SessionDescription
    let viewerOffer: SessionDescription
    let plainSSRCs: [UInt32]
    let simulcastSSRCs: [UInt32]
    let publisherPayloadTypes: [UInt8]
    /// This input's publisher offer and its SSRCs (the simulcast offer signals audio's only).
    var publisherOffer: SessionDescription
    var publisherSSRCs: [UInt32]
    var simulcast = false
    /// The simulcast offer's RIDs, and its video m-line's MID, RID and repaired-RID extension ids.
    let rids: [String]
    let simulcastMID: String
    let extensionIDs: (mid: UInt8, rid: UInt8, repairedRID: UInt8)
    /// The publisher, the viewer, a third party and an IPv6 stranger.
    let addresses: [SocketAddress]
    static let clientPassword = "fuzzclientpassword012345"
    static let durations: [Duration] = [
        .milliseconds(0), .milliseconds(1), .milliseconds(10), .milliseconds(50), .milliseconds(200), .seconds(1),
        .seconds(5), .seconds(31),
    ]
    var scratch = [UInt8](repeating: 0, count: 2048)

    init() {
        output = DatagramQueue(pool: pool, capacity: 256)
        serverIdentity = try! DTLSIdentity.generate()
        clientIdentity = try! DTLSIdentity.generate()
        let folder = getenv("FUZZ_FIXTURES").map { String(cString: $0) } ?? "Tests/SFUTests/SDP/Fixtures"
        let fp = clientIdentity.localFingerprint
        plainOffer = Self.offer(folder + "/chromium-offer.sdp", ufrag: "fzpb", fingerprint: fp)
        simulcastOffer = Self.offer(folder + "/chromium-simulcast-offer.sdp", ufrag: "fzpb", fingerprint: fp)
        viewerOffer = Self.offer(folder + "/chromium-whep-offer.sdp", ufrag: "fzvw", fingerprint: fp)
        plainSSRCs = plainOffer.media.flatMap { $0.ssrcs.map(\.ssrc) }.uniqued()
        simulcastSSRCs = simulcastOffer.media.flatMap { $0.ssrcs.map(\.ssrc) }.uniqued()
        publisherPayloadTypes = plainOffer.media.flatMap { $0.codecs.map(\.payloadType) }
        publisherOffer = plainOffer
        publisherSSRCs = plainSSRCs
        let video = simulcastOffer.media.first { $0.kind == .video }!
        rids = (try? SDPSimulcast.offered(in: video))?.rids ?? []
        simulcastMID = video.mid ?? "1"
        func id(_ uri: String) -> UInt8 { video.headerExtensions.first { $0.uri == uri }?.id ?? 0 }
        extensionIDs = (
            id("urn:ietf:params:rtp-hdrext:sdes:mid"), id("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
            id("urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id")
        )
        // The clients' addresses: three loopback ones and an IPv6 one; nobody listens, the
        // harness reads what the server sends them from its queue.
        addresses = (0..<3).map { SocketAddress(ip: "127.0.0.1", port: 50001 + UInt16($0))! }
            + [SocketAddress(ip: "2001:db8::7", port: 50000)!]
    }

    /// A fixture offer with the harness's ICE credentials and DTLS fingerprint in place of
    /// the browser's (whose private keys nobody has), everything else as the browser wrote it.
    static func offer(_ path: String, ufrag: String, fingerprint: DTLSFingerprint) -> SessionDescription {
        guard let file = fopen(path, "r") else { fatalError("harness: no fixture at \(path) (set FUZZ_FIXTURES)") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var c = fgetc(file)
        while c != EOF {
            bytes.append(UInt8(c))
            c = fgetc(file)
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { line -> String in
                if line.hasPrefix("a=ice-ufrag:") { return "a=ice-ufrag:\(ufrag)" }
                if line.hasPrefix("a=ice-pwd:") { return "a=ice-pwd:\(clientPassword)" }
                if line.hasPrefix("a=fingerprint:") { return "a=fingerprint:\(fingerprint)" }
                return String(line)
            }
        return try! SDPParser.parse(lines.joined(separator: "\r\n"))
    }

    // MARK: - One input

    func run(_ input: UnsafeRawBufferPointer) {
        output.drain { _, _ in }
        var configuration = RoomManagerConfiguration()
        configuration.candidateIPs = ["127.0.0.1"]
        let manager = RoomManager(
            coreIndex: 0, identity: serverIdentity, configuration: configuration, output: output, mediaPort: 5000)
        var now = Instant(nanoseconds: 1_000_000_000_000)
        var cursor = FuzzInput(input)
        let setup = cursor.byte()
        simulcast = setup & 0x20 != 0
        publisherOffer = simulcast ? simulcastOffer : plainOffer
        publisherSSRCs = simulcast ? simulcastSSRCs : plainSSRCs
        let room = try! RoomName(validating: "fuzz")
        var peers: [Peer?] = [nil, nil]
        func publish() {
            guard let created = try? manager.publish(room: room, offer: publisherOffer, now: now) else { return }
            peers[0] = Peer(created: created, clientUfrag: "fzpb", address: 0)
        }
        func play() {
            guard let created = try? manager.play(room: room, offer: viewerOffer, now: now) else { return }
            peers[1] = Peer(created: created, clientUfrag: "fzvw", address: 1)
        }
        if setup & 0x10 == 0 {
            publish()
            play()
        } else {
            play()
            publish()
        }
        check(peers[0] != nil && peers[1] != nil, "a real offer was refused")
        for (i, bit) in [(0, UInt8(1)), (1, 2)] where setup & bit != 0 {
            connect(peers[i]!, manager: manager, now: &now)
            check(peers[i]!.srtp != nil, "the \(i == 0 ? "publisher" : "viewer") did not connect")
        }
        var datagramsInBatch = 0
        func deliver(_ bytes: UnsafeRawBufferPointer, from address: Int) {
            scratch.withUnsafeMutableBytes { buffer in
                let n = min(bytes.count, buffer.count)
                if n > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
                manager.received(
                    UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]), from: addresses[address], now: now)
            }
            datagramsInBatch += 1
            // The loop ends a receive batch after at most `recvCount` datagrams.
            if datagramsInBatch == 32 { endBatch() }
        }
        func endBatch() {
            manager.batchEnded(now: now)
            output.drain { _, _ in }
            datagramsInBatch = 0
        }

        var ops = 0
        while !cursor.isAtEnd, ops < 256 {
            ops += 1
            let flags = cursor.byte()
            let source = Int(flags >> 3) & 3
            let step = Self.durations[Int(flags >> 5)]
            if step.nanoseconds > 0 {
                // A new loop turn: the batch ends; the 20 ms tick runs when it is due.
                endBatch()
                now = now + step
                if step >= .milliseconds(10) { manager.tick(now: now) }
            }
            let peer = source < 2 ? peers[source] : peers[Int(flags >> 2) & 1]
            switch flags & 7 {
            case 0:
                deliver(cursor.chunk(), from: source)
            case 1:
                rtp(&cursor, peer: peer) { deliver($0, from: source) }
            case 2:
                rtcp(&cursor, peer: peer) { deliver($0, from: source) }
            case 3:
                stun(&cursor, peer: peer) { deliver($0, from: source) }
            case 4:
                dtls(&cursor, peer: peer) { deliver($0, from: source) }
            case 5:
                manager.tick(now: now)
            case 6:
                control(&cursor, manager: manager, peers: peers, room: room, now: now)
            default:
                endBatch()
            }
            check(manager.pendingCount <= manager.sessionCount, "more pending set-ups than sessions")
            check(manager.routedAddressCount <= 8 * manager.sessionCount, "routes outlive their sessions")
        }
        endBatch()
        manager.shutdown(now: now)
        output.drain { _, _ in }
        check(manager.sessionCount == 0 && manager.pendingCount == 0, "sessions left after shutdown")
        check(manager.routedAddressCount == 0, "routes left after shutdown")
        check(manager.rooms.isEmpty, "rooms left after shutdown")
        let ended = manager.counters.sessionsEnded.values.reduce(0, +)
        check(ended == manager.counters.sessionsCreated, "sessions created \(manager.counters.sessionsCreated), ended \(ended)")
        check(output.pendingCount == 0, "datagrams stuck in the send queue")
        check(pool.available == pool.slotCount, "send slots leaked: \(pool.available)")
    }

    // MARK: - Ops

    /// An RTP packet: either the input as is, or the input's payload behind a header with one
    /// of the offer's SSRCs and payload types; SRTP-protected when the peer is connected.
    func rtp(_ cursor: inout FuzzInput, peer: Peer?, deliver: (UnsafeRawBufferPointer) -> Void) {
        let selector = cursor.byte()
        let body = cursor.chunk()
        var packet = [UInt8]()
        if simulcast, selector & 5 == 5 {
            // A simulcast layer's packet: an unsignalled SSRC named by MID and RID (or, for
            // RTX, repaired RID) header extensions; the last RID choice was never offered.
            let seq = cursor.u16()
            let ts = cursor.u32()
            let choice = Int(selector >> 5) % (rids.count + 1)
            let rid = choice < rids.count ? rids[choice] : "x"
            let repaired = selector & 8 != 0
            let ssrc = 0x51A0_0000 | UInt32(selector >> 3)
            let pt = publisherPayloadTypes[Int(cursor.byte()) % publisherPayloadTypes.count]
            packet = [0x90, (selector & 2 != 0 ? 0x80 : 0) | pt, UInt8(seq >> 8), UInt8(seq & 0xFF)]
            packet += [UInt8(ts >> 24), UInt8((ts >> 16) & 0xFF), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF)]
            packet += [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
            var elements: [UInt8] = [extensionIDs.mid << 4 | UInt8(simulcastMID.utf8.count - 1)] + Array(simulcastMID.utf8)
            let ridID = repaired ? extensionIDs.repairedRID : extensionIDs.rid
            elements += [ridID << 4 | UInt8(rid.utf8.count - 1)] + Array(rid.utf8)
            while elements.count % 4 != 0 { elements.append(0) }
            packet += [0xBE, 0xDE, 0, UInt8(elements.count / 4)] + elements
        } else if selector & 1 != 0 {
            let seq = cursor.u16()
            let ts = cursor.u32()
            let ssrc = publisherSSRCs.isEmpty ? 1 : publisherSSRCs[Int(selector >> 3) % publisherSSRCs.count]
            let pt = publisherPayloadTypes[Int(cursor.byte()) % publisherPayloadTypes.count]
            packet = [0x80 | (selector & 0x10), (selector & 2 != 0 ? 0x80 : 0) | pt, UInt8(seq >> 8), UInt8(seq & 0xFF)]
            packet += [UInt8(ts >> 24), UInt8((ts >> 16) & 0xFF), UInt8((ts >> 8) & 0xFF), UInt8(ts & 0xFF)]
            packet += [UInt8(ssrc >> 24), UInt8((ssrc >> 16) & 0xFF), UInt8((ssrc >> 8) & 0xFF), UInt8(ssrc & 0xFF)]
        }
        packet += body
        protect(packet, peer: peer, rtcp: false, deliver: deliver)
    }

    /// RTCP: the input as a compound, or feedback the harness writes about the SSRCs the
    /// server announced (NACK, report block, PLI, SR, BYE) with the input's numbers.
    func rtcp(_ cursor: inout FuzzInput, peer: Peer?, deliver: (UnsafeRawBufferPointer) -> Void) {
        let selector = cursor.byte()
        let media = peer.flatMap { $0.outboundSSRCs.isEmpty ? nil : $0.outboundSSRCs[Int(selector >> 3) % $0.outboundSSRCs.count] }
            ?? cursor.u32()
        let own = publisherSSRCs.isEmpty ? 1 : publisherSSRCs[Int(selector >> 3) % publisherSSRCs.count]
        if selector & 7 == 0 {
            protect(Array(cursor.chunk()), peer: peer, rtcp: true, deliver: deliver)
            return
        }
        var out = [UInt8](repeating: 0, count: 1200)
        let n = out.withUnsafeMutableBytes { buffer -> Int in
            var w = RTCPWriter(into: buffer)
            switch selector & 7 {
            case 1:
                var lost: [UInt16] = []
                let start = cursor.u16()
                for _ in 0..<(Int(cursor.byte()) % 40) { lost.append(start &+ UInt16(cursor.byte())) }
                w.addNack(senderSSRC: 0xFEED_0001, mediaSSRC: media, lost: lost)
            case 2:
                let block = RTCPReportBlock(
                    ssrc: media, fractionLost: cursor.byte(), cumulativeLost: Int32(bitPattern: cursor.u32() & 0xFF_FFFF),
                    extendedHighestSequence: cursor.u32(), jitter: cursor.u32(), lastSenderReport: cursor.u32(),
                    delaySinceLastSenderReport: cursor.u32())
                w.addReceiverReport(ssrc: 0xFEED_0001, reports: [block])
            case 3:
                w.addPictureLossIndication(senderSSRC: 0xFEED_0001, mediaSSRC: media)
            case 4:
                w.addSenderReport(
                    ssrc: own, ntpTimestamp: UInt64(cursor.u32()) << 32 | UInt64(cursor.u32()), rtpTimestamp: cursor.u32(),
                    packetCount: cursor.u32(), octetCount: cursor.u32(), reports: [RTCPReportBlock]())
            case 5:
                w.addBye(ssrcs: [own])
            case 6:
                w.addFullIntraRequest(senderSSRC: 0xFEED_0001, mediaSSRC: media, sequenceNumber: cursor.byte())
            default:
                w.addRemb(senderSSRC: 0xFEED_0001, bitrate: UInt64(cursor.u32()), ssrcs: [media])
            }
            return (try? w.finish()) ?? 0
        }
        guard n > 0 else { return }
        protect(Array(out[0..<n]), peer: peer, rtcp: true, deliver: deliver)
    }

    func protect(_ packet: [UInt8], peer: Peer?, rtcp: Bool, deliver: (UnsafeRawBufferPointer) -> Void) {
        var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailer + 16)
        buffer.withUnsafeMutableBytes { b in
            var length = packet.count
            if let srtp = peer?.srtp {
                guard
                    let n = rtcp
                        ? try? srtp.protectRTCP(b, length: packet.count) : try? srtp.protectRTP(b, length: packet.count)
                else { return }
                length = n
            }
            deliver(UnsafeRawBufferPointer(rebasing: b[0..<length]))
        }
    }

    /// A binding request with the peer's credentials (or wrong ones), attributes by flag.
    func stun(_ cursor: inout FuzzInput, peer: Peer?, deliver: (UnsafeRawBufferPointer) -> Void) {
        let attributes = cursor.byte()
        let tid = StunTransactionID(hi: UInt32(cursor.u16()), lo: UInt64(cursor.u32()))
        let user = peer.map { "\($0.serverUfrag):\($0.clientUfrag)" } ?? "nobody:fzpb"
        let key = peer?.serverPassword ?? Array("wrongpassword".utf8)
        var request = [UInt8](repeating: 0, count: 512)
        let n = request.withUnsafeMutableBytes { out -> Int in
            var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: tid)
            b.addUsername(attributes & 0x40 != 0 ? "x" + user : user)
            b.addPriority(0x6E00_1EFF)
            if attributes & 1 != 0 { b.addUseCandidate() }
            if attributes & 2 != 0 { b.addIceControlling(0x0102_0304_0506_0708) }
            if attributes & 4 != 0 { b.addIceControlled(0x0807_0605_0403_0201) }
            if attributes & 0x20 == 0 { b.addMessageIntegrity(key: key) }
            if attributes & 0x80 == 0 { b.addFingerprint() }
            return (try? b.finish()) ?? 0
        }
        request.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// DTLS: a close_notify from a connected peer, else one record of the input's type and
    /// epoch framed around the input's body (reaching the scanner, OpenSSL or the record layer).
    func dtls(_ cursor: inout FuzzInput, peer: Peer?, deliver: (UnsafeRawBufferPointer) -> Void) {
        let selector = cursor.byte()
        if selector & 0x80 != 0, let dtls = peer?.dtls, dtls.state == .connected {
            dtls.close()
            while let n = scratch.withUnsafeMutableBytes({ dtls.pollDatagram(into: $0) }) {
                let copy = Array(scratch[0..<n])
                copy.withUnsafeBytes { deliver($0) }
            }
            return
        }
        let body = cursor.chunk()
        let epoch = UInt16(selector >> 2) & 1
        var record: [UInt8] = [20 + (selector & 3), 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF)]
        let seq = cursor.u16()
        record += [0, 0, 0, 0, UInt8(seq >> 8), UInt8(seq & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
        record += body
        record.withUnsafeBytes { deliver($0) }
    }

    func control(
        _ cursor: inout FuzzInput, manager: RoomManager, peers: [Peer?], room: RoomName, now: Instant
    ) {
        let selector = cursor.byte()
        switch selector % 8 {
        case 0:
            if let v = peers[1] { manager.endSession(room: "fuzz", id: v.sessionID, now: now) }
        case 1:
            if let p = peers[0] { manager.endSession(room: "fuzz", id: p.sessionID, now: now) }
        case 2:
            _ = try? manager.play(room: room, offer: viewerOffer, now: now)  // one that never connects
        case 3:
            _ = try? manager.publish(room: room, offer: publisherOffer, now: now)
        case 4:
            // An ICE restart by PATCH with the input's credentials.
            guard let p = peers[Int(selector >> 7)] else { return }
            let ufrag = String(decoding: cursor.chunk().filter { $0 > 0x20 && $0 < 0x7F && $0 != 0x3A }, as: UTF8.self)
            let text = "a=ice-ufrag:\(ufrag)\r\na=ice-pwd:restartpassword0123456789\r\n"
            if let fragment = try? TrickleFragment.parse(text) {
                _ = manager.patch(room: "fuzz", id: p.sessionID, fragment: fragment, ifMatch: "*", now: now)
            }
        case 5:
            manager.closeRoom("fuzz", now: now)
        case 6:
            // A viewer's layer by RID (offered or not), through the API's entry point.
            guard let v = peers[1] else { return }
            let choice = Int(selector >> 3) % (rids.count + 1)
            _ = manager.selectLayer(
                room: "fuzz", id: v.sessionID, choice: .rid(choice < rids.count ? rids[choice] : "x"), now: now)
        default:
            if let v = peers[Int(selector >> 7)] {
                _ = manager.selectLayer(room: "fuzz", id: v.sessionID, choice: .automatic, now: now)
            }
        }
    }

    // MARK: - Set-up

    /// ICE (one nominating check) and a real DTLS handshake for `peer`, on the virtual clock.
    func connect(_ peer: Peer, manager: RoomManager, now: inout Instant) {
        var request = [UInt8](repeating: 0, count: 512)
        let n = request.withUnsafeMutableBytes { out -> Int in
            var b = StunMessageBuilder(into: out, type: .bindingRequest, transactionID: StunTransactionID(hi: 1, lo: 2))
            b.addUsername("\(peer.serverUfrag):\(peer.clientUfrag)")
            b.addPriority(0x6E00_1EFF)
            b.addUseCandidate()
            b.addIceControlling(0x0102_0304_0506_0708)
            b.addMessageIntegrity(key: peer.serverPassword)
            b.addFingerprint()
            return try! b.finish()
        }
        let from = addresses[peer.address]
        request.withUnsafeMutableBytes { manager.received(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), from: from, now: now) }
        let dtls = try! DTLSTransport(
            identity: clientIdentity, role: .client, remoteFingerprint: (peer.fingerprint.algorithm, peer.fingerprint.value))
        peer.dtls = dtls
        dtls.startHandshake(now: now)
        for _ in 0..<12 {
            now = now + .milliseconds(1)
            while let n = scratch.withUnsafeMutableBytes({ dtls.pollDatagram(into: $0) }) {
                scratch.withUnsafeMutableBytes {
                    manager.received(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), from: from, now: now)
                }
            }
            manager.batchEnded(now: now)
            output.drain { to, datagram in
                guard to == from, let first = datagram.first, (20...63).contains(first) else { return }
                dtls.handle(datagram: datagram, now: now)
            }
            while let event = dtls.pollEvent() {
                if case .connected(let keys) = event { peer.srtp = try? SRTPContext(keys: keys) }
            }
            // The client is connected only after the server's Finished: the server is too.
            if peer.srtp != nil { break }
        }
        output.drain { _, _ in }
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
