import Reactor

/// Each datagram of the core's media socket to its session and job; ICE checks and the
/// confirmation of new addresses.
extension RoomManager {
    public func received(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant
    ) {
        switch DatagramRoute.route(UnsafeRawBufferPointer(datagram), from: source, in: sessions) {
        case .stun(let s):
            handleSTUN(datagram, session: s, from: source, now: now)
        case .dtls(let s):
            s.dtls.handle(datagram: UnsafeRawBufferPointer(datagram), now: now)
            flushDTLS(s, to: source, now: now)
        case .rtp(let s):
            handleRTP(datagram, session: s, now: now)
        case .rtcp(let s):
            handleRTCP(datagram, session: s, now: now)
        case .unknownSource:
            counters.droppedUnknownSource &+= 1
        case .unknownUfrag:
            counters.stunUnknownUfrag &+= 1
        case .garbage:
            counters.droppedGarbage &+= 1
        }
    }

    /// The receive batch ended: each track that took packets fans them out now.
    public func batchEnded(now: Instant) {
        if !tracksToFlush.isEmpty {
            for track in tracksToFlush { track.flushPending(output: output) }
            tracksToFlush.removeAll(keepingCapacity: true)
        }
        if !keyframedLayers.isEmpty { moveViewersToKeyframedLayers(now: now) }
        if !shardRingsToWake.isEmpty { wakeShardRings() }
    }

    /// An ICE check (or a reply to our confirmation request) for `s`: answered; a validated
    /// address becomes a route to the session; a nomination selects it.
    func handleSTUN(
        _ datagram: UnsafeMutableRawBufferPointer, session s: PeerSession, from source: SocketAddress,
        now: Instant
    ) {
        let bytes = UnsafeRawBufferPointer(datagram)
        var result: IceLiteAgent.Result?
        _ = output.send(to: source, capacity: 512) { reply in
            let r = s.ice.handle(stun: bytes, from: source, now: now, reply: reply)
            result = r
            return r.replyLength
        }
        guard let result else { return }
        if let rejection = result.rejection {
            counters.stunRejected &+= 1
            if rejection == .replayedTransaction { counters.stunReplaysRefused &+= 1 }
        }
        if s.ice.isAddressValidated(source) { sessions.route(source, to: s) }
        if s.state == .waitingForICE, s.ice.isAddressValidated(source) { s.state = .connecting }
        if result.selectedAddressChanged, let selected = s.ice.selectedAddress {
            if s.address != nil { counters.iceAddressMoves &+= 1 }
            s.address = selected
            lifecycle.note(s, .iceConnected, now: now)
            completeSetupIfReady(s, now: now)
        }
        if s.ice.probeAddress != nil {
            sendProbe(s, now: now)
            sessions.startProbing(s)
            noteDeadline(s.ice.nextProbeTime)
        }
        if result.moveRateLimited { counters.iceMovesRateLimited &+= 1 }
    }

    /// Sends the session's confirmation request for a new address when one is due.
    func sendProbe(_ s: PeerSession, now: Instant) {
        guard let target = s.ice.probeAddress else { return }
        _ = output.send(to: target, capacity: 512) { out in
            guard let (length, to) = s.ice.pollProbe(now: now, out: out), to == target else { return 0 }
            return length
        }
    }
}
