import Reactor
import SFU

/// What a signalling request came back with (crosses from an HTTP worker to the loop).
struct SignallingResult: Sendable {
    var status: Int = 0
    var body: String = ""
    var location: String? = nil
    /// Seconds from a `Retry-After` header (a 503 from a busy server).
    var retryAfter: Int? = nil
    var error: String? = nil
}

/// One WebRTC peer of the load generator (a publisher or a viewer): its own UDP socket on
/// its loop, ICE (controlling, full), DTLS (client, or server when the answer says
/// `setup:active`) and SRTP. Subclasses add the media. Core-confined.
///
/// The protocol machines are the SFU's (`IceClientAgent`, `DTLSTransport`, `SRTPContext`);
/// the peer around them is the load tool's own, not the SFU's `ClientPeer`, because it does
/// what a load run needs and `ClientPeer` does not: either DTLS role (a server may answer
/// `setup:active`), one timer per peer armed for its next deadline instead of a
/// `drive(now:)` poll of every peer (thousands per core), and ICE credentials derived from
/// the run's seed, so a run can be repeated. (Named so that it is not taken for the
/// server's `PeerSession`.)
class LoadPeer: UDPReceiver {
    enum State: Equatable { case offering, checking, securing, connected, failed, closed }

    // unowned(unsafe): the loop context owns every session and outlives it; saves the
    // reference-count traffic of a checked unowned load on each packet.
    unowned(unsafe) let host: LoadLoop
    let id: Int
    let room: String
    let socket: UDPSocket
    let localUfrag: String
    let localPassword: String
    let seed: UInt64
    private(set) var state = State.offering
    var ice: IceClientAgent?
    var dtls: DTLSTransport?
    var srtp: SRTPContext?
    var remote: SocketAddress?
    var answer: AnswerInfo?
    var location: String?
    var timer: TimerHandle?
    let joinStart: Instant
    var failureReason: String?

    /// `timestamps`: the socket gets the kernel's receive time of each datagram (for latency).
    init(host: LoadLoop, id: Int, room: String, seed: UInt64, timestamps: Bool = false) throws(ReactorError) {
        self.host = host
        self.id = id
        self.room = room
        self.seed = seed
        var r = seed
        localUfrag = LoadPeer.token(&r, 8)
        localPassword = LoadPeer.token(&r, 24)
        joinStart = host.loop.now
        let box = ReceiverBox()
        socket = try host.loop.openUDP(bind: host.config.bindAddress, receiver: box, gro: host.config.gro,
                                        timestamps: timestamps)
        box.target = Unmanaged.passUnretained(self)
    }

    /// The socket is opened before `self` exists, so it delivers through this box. It holds
    /// the session unretained: a weak reference would give the session a side table and
    /// send every retain of it down the slow path (17% of the load generator's time in a
    /// profile). Safe because the session closes its socket (dropping the box) before it
    /// goes away, and both live on the same loop.
    final class ReceiverBox: UDPReceiver {
        var target: Unmanaged<LoadPeer>?
        func received(_ datagram: UnsafeMutableRawBufferPointer, from: SocketAddress, on socket: UDPSocket, now: Instant) {
            target?._withUnsafeGuaranteedRef { $0.received(datagram, from: from, on: socket, now: now) }
        }
        func batchEnded(on socket: UDPSocket, now: Instant) {
            target?._withUnsafeGuaranteedRef { $0.batchEnded(on: socket, now: now) }
        }
    }

    static func token(_ r: inout UInt64, _ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/".utf8)
        var out: [UInt8] = []
        for _ in 0..<n {
            r = r &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(alphabet[Int(r >> 58)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: hooks for subclasses

    var offer: LoadOffer {
        LoadOffer(role: .viewer, iceUfrag: localUfrag, icePassword: localPassword,
                    fingerprint: host.identity.fingerprint, candidate: socket.localAddress)
    }
    func answered(now: Instant) {}
    func secured(now: Instant) {}
    func handleRTP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {}
    func handleRTCP(_ d: UnsafeMutableRawBufferPointer, now: Instant) {}
    /// Media-side work due at `now`; returns when it next wants to run.
    func serviceMedia(now: Instant) -> Instant? { nil }
    func failed(now: Instant) {}

    // MARK: signalling

    /// The server's answer (or error) came back.
    func signalled(_ r: SignallingResult, now: Instant) {
        guard state == .offering else { return }
        if let e = r.error { return fail("HTTP: \(e)", now: now) }
        guard r.status == 201 || r.status == 200 else {
            return fail("HTTP \(r.status): \(r.body.prefix(120))", now: now)
        }
        location = r.location
        let a: AnswerInfo
        do { a = try AnswerInfo(parsing: r.body) } catch {
            return fail("\(error) (answer begins: \(r.body.prefix(160).debugDescription))", now: now)
        }
        answer = a
        guard let cand = a.candidate else { return fail("no candidate", now: now) }
        remote = cand
        ice = LoadICE.agent(localUfrag: localUfrag, localPassword: localPassword, remoteUfrag: a.iceUfrag,
                            remotePassword: a.icePassword, remote: cand, seed: seed &+ 17)
        let role: DTLSRole = a.setup == "active" ? .server : .client
        do {
            dtls = try DTLSTransport(identity: host.identity, role: role,
                                     remoteFingerprint: (a.fingerprintAlgorithm, a.fingerprintValue))
        } catch {
            return fail("DTLS setup: \(error)", now: now)
        }
        state = .checking
        answered(now: now)
        service(now: now)
    }

    // MARK: timers

    func service(now: Instant) {
        guard state != .failed, state != .closed else { return }
        var next: Instant? = nil
        let scratch = host.scratch
        if let ice {
            while let (n, to) = ice.poll(now: now, out: scratch) {
                socket.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: to)
            }
            if ice.state == .failed { return fail("ICE: no answer to \(LoadICE.maxAttempts) checks", now: now) }
            next = ice.nextWakeUp
        }
        if let dtls, state == .securing || state == .connected {
            dtls.handleTimeout(now: now)
            flushDTLS(now: now)
            if case .failed(let e) = dtls.state { return fail("DTLS: \(e)", now: now) }
            if state == .securing, let t = dtls.nextTimeout { next = min(next ?? t, t) }
        }
        if state == .securing, now - joinStart > .seconds(20) { return fail("DTLS: not connected in 20 s", now: now) }
        if state == .connected, let m = serviceMedia(now: now) { next = min(next ?? m, m) }
        if let next { arm(next) }
    }

    func arm(_ at: Instant) {
        if let timer {
            host.loop.reschedule(timer, at: at)
        } else {
            // Unowned, not weak (see ReceiverBox); the timer is cancelled in close() and fail().
            timer = host.loop.scheduleTimer(at: at) { [unowned(unsafe) self] in
                self.service(now: self.host.loop.now)
            }
        }
    }

    func flushDTLS(now: Instant) {
        guard let dtls, let remote else { return }
        let scratch = host.scratch
        while let n = dtls.pollDatagram(into: scratch) {
            socket.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: remote)
        }
        while let e = dtls.pollEvent() {
            switch e {
            case .connected(let keys):
                do {
                    srtp = try SRTPContext(keys: keys)
                } catch {
                    return fail("SRTP: \(error)", now: now)
                }
                state = .connected
                secured(now: now)
                // Media and reports start now, not at the next consent check.
                arm(now)
            case .failed(let err):
                return fail("DTLS: \(err)", now: now)
            case .closed, .peerMissedFinished:
                break
            }
        }
    }

    func fail(_ reason: String, now: Instant) {
        guard state != .failed, state != .closed else { return }
        state = .failed
        failureReason = reason
        if let timer { host.loop.cancelTimer(timer) }
        failed(now: now)
    }

    /// Ends the session: DTLS close_notify, socket closed; DELETE is sent by the caller.
    func close() {
        if let timer { host.loop.cancelTimer(timer) }
        if let dtls, let remote, state == .connected {
            dtls.close()
            let scratch = host.scratch
            while let n = dtls.pollDatagram(into: scratch) {
                socket.send(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), to: remote)
            }
        }
        if state != .failed { state = .closed }
        socket.close()
    }

    // MARK: receive

    func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on socket: UDPSocket, now: Instant) {
        guard let first = d.first else { return }
        if first >= 128 && first <= 191 {
            guard state == .connected, d.count >= 2 else { return }
            if d[1] >= 192 && d[1] <= 223 { handleRTCP(d, now: now) } else { handleRTP(d, now: now) }
            return
        }
        if first <= 3 {
            guard let ice else { return }
            let wasConnected = ice.state == .connected
            let n = ice.handle(stun: UnsafeRawBufferPointer(d), from: from, now: now, reply: host.scratch)
            if n > 0 { socket.send(UnsafeRawBufferPointer(rebasing: host.scratch[0..<n]), to: from) }
            if !wasConnected && ice.state == .connected && state == .checking {
                state = .securing
                iceConnected(now: now)
                dtls?.startHandshake(now: now)
                flushDTLS(now: now)
                service(now: now)
            }
            return
        }
        if first >= 20 && first <= 63, let dtls {
            // A DTLS server-role peer may get the ClientHello before our own check succeeded.
            if state == .checking { state = .securing; iceConnected(now: now) }
            guard state == .securing || state == .connected else { return }
            dtls.handle(datagram: UnsafeRawBufferPointer(d), now: now)
            flushDTLS(now: now)
            if state == .securing, let t = dtls.nextTimeout { arm(t) }
        }
    }

    func iceConnected(now: Instant) {}

    func batchEnded(on socket: UDPSocket, now: Instant) {}
}
