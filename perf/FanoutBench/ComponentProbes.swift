import Reactor
import SFU

/// `--memory` breakdown: the heap one viewer's DTLS transport and SRTP context hold on their
/// own, each measured as the server side of `count` pairs talking in memory (no sockets),
/// attributed with a `HeapLedger` so the peer half is not counted.
enum ComponentProbes {
    /// Net heap per server-role `DTLSTransport` after a completed handshake and after the
    /// connected event was drained, as a `PeerSession` keeps it.
    static func dtlsPerTransport(count: Int, server: DTLSIdentity, client: DTLSIdentity) throws -> Double {
        let ledger = HeapLedger()
        var servers: [DTLSTransport] = []
        var clients: [DTLSTransport] = []
        servers.reserveCapacity(count)
        clients.reserveCapacity(count)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        let now = Instant.now()
        let serverPrint = (server.localFingerprint.algorithm, server.localFingerprint.value)
        let clientPrint = (client.localFingerprint.algorithm, client.localFingerprint.value)
        ledger.enabled = true
        for _ in 0..<count {
            let s = try ledger.attribute { () throws(DTLSError) in
                try DTLSTransport(identity: server, role: .server, remoteFingerprint: clientPrint)
            }
            let c = try DTLSTransport(identity: client, role: .client, remoteFingerprint: serverPrint)
            c.startHandshake(now: now)
            var progress = true
            while progress {
                progress = false
                while let n = c.pollDatagram(into: buffer) {
                    progress = true
                    ledger.attribute { s.handle(datagram: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), now: now) }
                }
                while let n = ledger.attribute({ s.pollDatagram(into: buffer) }) {
                    progress = true
                    c.handle(datagram: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), now: now)
                }
            }
            while ledger.attribute({ s.pollEvent() }) != nil {}
            while c.pollEvent() != nil {}
            guard s.state == .connected, c.state == .connected else { throw BenchError("probe handshake: \(s.state)") }
            servers.append(s)
            clients.append(c)
        }
        let perTransport = Double(ledger.bytes) / Double(count)
        withExtendedLifetime((servers, clients)) {}
        return perTransport
    }

    /// Net heap per server-role `SRTPContext` after what a viewer's context sees: RTP out on
    /// `outboundSSRCs` (audio, video, RTX) and one SRTCP packet in (the viewer's RR/NACK).
    static func srtpPerContext(count: Int, profile: SRTPProfile, outboundSSRCs: [UInt32]) throws -> Double {
        let ledger = HeapLedger()
        let n = profile.keyingMaterialLength
        let serverKeys = SRTPKeys(
            profile: profile, role: .server, clientWriteKey: (0..<n).map { UInt8($0 &* 3) },
            serverWriteKey: (0..<n).map { UInt8($0 &* 5 &+ 1) })
        let clientKeys = SRTPKeys(
            profile: profile, role: .client, clientWriteKey: serverKeys.clientWriteKey,
            serverWriteKey: serverKeys.serverWriteKey)
        var contexts: [SRTPContext] = []
        contexts.reserveCapacity(count)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
        defer { buffer.deallocate() }
        let payload = [UInt8](repeating: 0x5A, count: 200)
        let peer = try SRTPContext(keys: clientKeys)
        ledger.enabled = true
        for i in 0..<count {
            let context = try ledger.attribute { () throws(SRTPError) in try SRTPContext(keys: serverKeys) }
            for ssrc in outboundSSRCs {
                var b = RTPPacketBuilder(into: buffer, payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: ssrc)
                let length = try payload.withUnsafeBytes { try b.finish(payload: $0) }
                _ = try ledger.attribute { () throws(SRTPError) in try context.protectRTP(buffer, length: length) }
            }
            var w = RTCPWriter(into: buffer)
            w.addReceiverReport(
                ssrc: 0x5EED_0000 &+ UInt32(i),
                reports: CollectionOfOne(RTCPReportBlock(ssrc: outboundSSRCs[0], extendedHighestSequence: 1)))
            let length = try peer.protectRTCP(buffer, length: try w.finish())
            _ = try ledger.attribute { () throws(SRTPError) in try context.unprotectRTCP(buffer, length: length) }
            contexts.append(context)
        }
        let perContext = Double(ledger.bytes) / Double(count)
        withExtendedLifetime(contexts) {}
        return perContext
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
