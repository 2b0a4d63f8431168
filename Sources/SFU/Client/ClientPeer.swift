import Reactor

/// The client role of one WebRTC peer — a WHIP publisher or a WHEP viewer — against an
/// ICE-lite server: a controlling ICE agent, the active DTLS endpoint, then SRTP with the
/// exported keys. Sans-IO like the room layer: datagrams in with `received`, what it sends
/// into `output`. Used by the fan-out benchmark, the end-to-end tests (on a socket through
/// `openUDP(bind:endpoint:queue:)`) and the simulation; core-confined.
///
/// The owner calls `drive(now:)` every few milliseconds (ICE checks, the DTLS start, DTLS
/// retransmits). Received RTP and RTCP are only counted unless `onRTP`/`onRTCP` are set;
/// then they are decrypted in place and handed over.
public final class ClientPeer: DatagramEndpoint {
    public enum Role: Sendable { case publisher, viewer }

    public let role: Role
    public let offer: ClientOffer
    public let negotiation: ClientNegotiation
    public let ice: IceClientAgent
    public let dtls: DTLSTransport
    /// Where the peer's datagrams go.
    public let output: DatagramQueue
    /// The server's session id (for DELETE), when the owner keeps it here.
    public var sessionID = ""
    public private(set) var srtp: SRTPContext?
    /// Why the peer gave up (ICE or DTLS failure, SRTP set-up); nil while healthy.
    public private(set) var failed: String?
    /// DTLS is closed (a close_notify either way): the session is over.
    public private(set) var dtlsClosed = false
    private var dtlsStarted = false
    private var scratch = [UInt8](repeating: 0, count: 1500)

    /// RTP and RTCP datagrams received (before decryption).
    public private(set) var rtpReceived = 0
    public private(set) var rtcpReceived = 0
    /// Datagrams that did not decrypt (only counted when a handler is set).
    public private(set) var unprotectFailures = 0
    /// Gets every received RTP packet, decrypted in place, when set.
    public var onRTP: ((RTPPacket) -> Void)?
    /// Gets every received RTCP compound packet, decrypted in place, when set.
    public var onRTCP: ((RTCPCompound) -> Void)?

    /// - Parameters:
    ///   - negotiation: the server's answer, read with `AnswerReader.read(_:offer:)`.
    ///   - iceUfrag, icePassword: the credentials `offer` carries.
    public init(
        role: Role, offer: ClientOffer, negotiation: ClientNegotiation, iceUfrag: String, icePassword: String,
        identity: DTLSIdentity, tieBreaker: UInt64, output: DatagramQueue
    ) throws(ClientPeerError) {
        self.role = role
        self.output = output
        self.offer = offer
        self.negotiation = negotiation
        ice = IceClientAgent(
            localUfrag: iceUfrag, localPassword: icePassword, remoteUfrag: negotiation.iceUfrag,
            remotePassword: negotiation.icePassword,
            remoteCandidates: negotiation.candidates.compactMap(\.socketAddress), tieBreaker: tieBreaker)
        guard let fp = negotiation.fingerprints.first else { throw .answerHasNoFingerprint }
        do {
            dtls = try DTLSTransport(identity: identity, role: .client, remoteFingerprint: (fp.algorithm, fp.value))
        } catch {
            throw .dtls(error)
        }
    }

    /// ICE and DTLS are done: SRTP keys are installed.
    public var isConnected: Bool { srtp != nil }

    /// The server address ICE selected (where media and RTCP go).
    public var serverAddress: SocketAddress? { ice.selectedAddress }

    public func received(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant
    ) {
        switch PacketKind.classify(UnsafeRawBufferPointer(datagram)) {
        case .rtp:
            rtpReceived &+= 1
            guard let onRTP, let srtp else { return }
            guard let n = try? srtp.unprotectRTP(datagram, length: datagram.count),
                let packet = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<n]))
            else {
                unprotectFailures &+= 1
                return
            }
            onRTP(packet)
        case .rtcp:
            rtcpReceived &+= 1
            guard let onRTCP, let srtp else { return }
            guard let n = try? srtp.unprotectRTCP(datagram, length: datagram.count),
                let compound = try? RTCPCompound(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<n]))
            else {
                unprotectFailures &+= 1
                return
            }
            onRTCP(compound)
        case .stun:
            let bytes = UnsafeRawBufferPointer(datagram)
            _ = output.send(to: source, capacity: 512) { reply in
                self.ice.handle(stun: bytes, from: source, now: now, reply: reply)
            }
        case .dtls:
            dtls.handle(datagram: UnsafeRawBufferPointer(datagram), now: now)
            pumpDTLS(now: now)
        default:
            break
        }
    }

    public func batchEnded(now: Instant) {}

    /// Timers: ICE checks and consent, the DTLS start once ICE is up, DTLS retransmits.
    public func drive(now: Instant) {
        guard failed == nil, !dtlsClosed else { return }
        while let (n, to) = scratch.withUnsafeMutableBytes({ ice.poll(now: now, out: $0) }) {
            _ = scratch.withUnsafeBytes { output.send(UnsafeRawBufferPointer(rebasing: $0[0..<n]), to: to) }
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

    /// Queues one SRTP packet to the server: `write` builds the plaintext RTP packet in the
    /// send slot and returns its length. False when not connected or nothing was queued.
    @discardableResult
    public func sendRTP(_ write: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard let srtp, let server = ice.selectedAddress else { return false }
        return output.send(to: server, capacity: 1500) { slot in
            let n = write(slot)
            guard n > 0 else { return 0 }
            return (try? srtp.protectRTP(slot, length: n)) ?? 0
        }
    }

    /// Queues one SRTCP compound packet to the server, written by `write`.
    @discardableResult
    public func sendRTCP(_ write: (inout RTCPWriter) -> Void) -> Bool {
        guard let srtp, let server = ice.selectedAddress else { return false }
        return output.send(to: server, capacity: 1200) { out in
            var w = RTCPWriter(into: out)
            write(&w)
            guard let n = try? w.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
    }

    /// Ends the session from this side with a DTLS close_notify (as a closing browser tab).
    public func close(now: Instant) {
        guard dtls.state == .connected else { return }
        dtls.close()
        pumpDTLS(now: now)
    }

    private func pumpDTLS(now: Instant) {
        guard let server = ice.selectedAddress else { return }
        output.sendQueuedDatagrams(of: dtls, to: server)
        while let event = dtls.pollEvent() {
            switch event {
            case .connected(let keys):
                do { srtp = try SRTPContext(keys: keys) } catch { failed = "SRTP: \(error)" }
            case .closed:
                dtlsClosed = true
            case .peerMissedFinished:
                break  // a server-side event
            case .failed(let e):
                failed = "DTLS failed: \(e)"
            }
        }
    }
}
