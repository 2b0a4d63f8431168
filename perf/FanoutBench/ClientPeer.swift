import Reactor
import SFU

/// One benchmark client (the publisher or a viewer) on its own loopback socket: a full ICE
/// controlling agent and an active DTLS endpoint against the server, then SRTP. Viewers only
/// count what arrives (their sockets are drained cheaply); the publisher sends video.
final class ClientPeer: UDPReceiver {
    enum Role { case publisher, viewer }

    let role: Role
    let offer: ClientOffer
    let negotiation: ClientNegotiation
    let ice: IceClientAgent
    let dtls: DTLSTransport
    var socket: UDPSocket?
    /// The server's session id (for DELETE).
    var sessionID = ""
    private(set) var srtp: SRTPContext?
    private(set) var failed: String?
    private var dtlsStarted = false
    private var scratch = [UInt8](repeating: 0, count: 1500)

    /// RTP datagrams received (viewers).
    private(set) var rtpReceived = 0

    init(role: Role, offer: ClientOffer, negotiation: ClientNegotiation, iceUfrag: String, icePassword: String,
         identity: DTLSIdentity, tieBreaker: UInt64) throws
    {
        self.role = role
        self.offer = offer
        self.negotiation = negotiation
        ice = IceClientAgent(
            localUfrag: iceUfrag, localPassword: icePassword, remoteUfrag: negotiation.iceUfrag,
            remotePassword: negotiation.icePassword,
            remoteCandidates: negotiation.candidates.compactMap(\.socketAddress), tieBreaker: tieBreaker)
        guard let fp = negotiation.fingerprints.first else { throw BenchError("answer has no fingerprint") }
        dtls = try DTLSTransport(identity: identity, role: .client, remoteFingerprint: (fp.algorithm, fp.value))
    }

    var isConnected: Bool { srtp != nil }

    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, on socket: UDPSocket, now: Instant) {
        switch PacketKind.classify(UnsafeRawBufferPointer(datagram)) {
        case .rtp:
            rtpReceived &+= 1
        case .rtcp:
            break
        case .stun:
            let bytes = UnsafeRawBufferPointer(datagram)
            _ = socket.send(to: source, capacity: 512) { reply in
                self.ice.handle(stun: bytes, from: source, now: now, reply: reply)
            }
        case .dtls:
            dtls.handle(datagram: UnsafeRawBufferPointer(datagram), now: now)
            pumpDTLS(now: now)
        default:
            break
        }
    }

    func batchEnded(on socket: UDPSocket, now: Instant) {}

    /// Timers: ICE checks and consent, the DTLS start once ICE is up, DTLS retransmits.
    func drive(now: Instant) {
        guard let socket, failed == nil else { return }
        while let (n, to) = scratch.withUnsafeMutableBytes({ ice.poll(now: now, out: $0) }) {
            _ = scratch.withUnsafeBytes { socket.send(UnsafeRawBufferPointer(rebasing: $0[0..<n]), to: to) }
        }
        if ice.state == .failed {
            failed = "ICE failed"
            return
        }
        if ice.state == .connected, !dtlsStarted {
            dtlsStarted = true
            dtls.startHandshake(now: now)
            pumpDTLS(now: now)
        }
        if dtlsStarted, let t = dtls.nextTimeout, t <= now {
            dtls.handleTimeout(now: now)
            pumpDTLS(now: now)
        }
    }

    /// A viewer's periodic feedback: SRTCP compound RR + generic NACK about the room's video
    /// stream, as a browser sends it. Returns false if it could not be queued.
    func sendFeedback(senderSSRC: UInt32, lostSequence: UInt16) -> Bool {
        guard let socket, let srtp, let server = ice.selectedAddress,
            let media = negotiation.media.first(where: { $0.kind == .video }), let mediaSSRC = media.remoteSSRC
        else { return false }
        return socket.send(to: server, capacity: 256) { out in
            var w = RTCPWriter(into: out)
            w.addReceiverReport(
                ssrc: senderSSRC, reports: CollectionOfOne(RTCPReportBlock(ssrc: mediaSSRC, extendedHighestSequence: 1000)))
            w.addNack(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, lost: CollectionOfOne(lostSequence))
            guard let n = try? w.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
    }

    private func pumpDTLS(now: Instant) {
        guard let socket, let server = ice.selectedAddress else { return }
        while true {
            var produced = false
            let queued = socket.send(to: server, capacity: 1500) { out in
                guard let n = self.dtls.pollDatagram(into: out) else { return 0 }
                produced = true
                return n
            }
            if !produced || !queued { break }
        }
        while let event = dtls.pollEvent() {
            switch event {
            case .connected(let keys):
                do { srtp = try SRTPContext(keys: keys) } catch { failed = "SRTP: \(error)" }
            case .closed:
                failed = "DTLS closed"
            case .failed(let e):
                failed = "DTLS failed: \(e)"
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
