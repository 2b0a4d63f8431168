import Reactor

/// What an edge sends the origin to play a room (a WHEP offer from the client role), kept to
/// read the origin's answer against.
public struct RelayOffer: Sendable {
    public let offer: ClientOffer
    let iceUfrag: String
    let icePassword: String

    /// The SDP to POST.
    public var sdp: String { offer.sdp }
}

/// The edge role (`CLUSTER_MODE=edge`): a room whose source is its origin node's room, played
/// from there by a `RelaySource` and fanned out here with the publisher's media path.
/// Keyframe requests of the viewers here go upstream through the relay (the room's keyframe
/// throttle, as for a publisher); viewers' NACKs are answered from this room's own history
/// (`TrackFanout.resend`), and losses on the relay hop are NACKed to the origin by the relay's
/// own `NackGenerator` (the origin answers from its history). Sans-IO: the owner makes the
/// HTTP exchange and the socket; the manager drives the peer in `tick` and tells the owner
/// through `relayEnded` when a relay is over.
extension RoomManager {
    /// A WHEP offer for the origin: audio and every video codec this server forwards (the
    /// origin answers with its publisher's), NACK and PLI feedback, no RTX (the origin then
    /// resends lost packets as they were, which need no unwrapping here), no transport-cc (an
    /// SFU does not drive its viewers' congestion control).
    public func makeRelayOffer() throws(RoomError) -> RelayOffer {
        do {
            _ = try identity.materials()
        } catch {
            throw .internalError("DTLS identity: \(error)")
        }
        let ufrag = "rl" + RandomToken.iceString(length: 8)
        let password = RandomToken.iceString(length: 24)
        let parameters = OfferParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: identity.localFingerprint.value,
            sessionID: RandomToken.value(in: 1...UInt64(Int64.max)), cname: "relay-" + RandomToken.hex(bytes: 4),
            streamID: "livesfu-relay", features: [])
        let offer = OfferBuilder.viewerOffer(parameters, kinds: [.audio, .video], videoCodecs: [.vp8, .vp9, .h264, .av1])
        return RelayOffer(offer: offer, iceUfrag: ufrag, icePassword: password)
    }

    /// The origin answered `offer`: the room (made when `creatingRoom`, else it must still
    /// exist) gets a relay whose peer sends into `output`. The owner connects the returned
    /// `RelaySource` to a UDP socket with `output` as its queue.
    /// - Throws: `publisherExists` when the room has a publisher here (nothing to relay),
    ///   `sessionNotFound` when the room is gone, `unusableOffer` when the answer is unusable.
    public func attachRelay(
        room name: RoomName, offer: RelayOffer, answer: String, origin: String, output: DatagramQueue,
        reconnects: Int = 0, creatingRoom: Bool, now: Instant
    ) throws(RoomError) -> RelaySource {
        let room: Room
        if creatingRoom {
            room = try self.room(named: name.value, now: now)
        } else {
            guard let existing = rooms[name.value] else { throw .sessionNotFound }
            room = existing
        }
        guard room.publisher == nil else { throw .publisherExists }
        let negotiation: ClientNegotiation
        let peer: ClientPeer
        do {
            negotiation = try AnswerReader.read(answer, offer: offer.offer)
            peer = try ClientPeer(
                role: .viewer, offer: offer.offer, negotiation: negotiation, iceUfrag: offer.iceUfrag,
                icePassword: offer.icePassword, identity: identity, tieBreaker: RandomToken.value(in: 1...UInt64.max),
                output: output)
        } catch {
            removeIfEmpty(room)
            throw .unusableOffer("the origin's answer: \(error)")
        }
        if let old = room.relay { stopRelay(old, in: room, reason: "replaced", closing: true, now: now) }
        // Consent between two servers of one service can be stricter than a browser's (RFC 7675:
        // every 5 s, 30 s to expire): an origin that died is noticed within seconds.
        peer.ice.consentInterval = RelaySource.consentInterval
        peer.ice.consentTimeout = RelaySource.consentTimeout
        let relay = RelaySource(room: name.value, origin: origin, peer: peer, reconnects: reconnects, now: now)
        relay.manager = self
        peer.onRTP = { [unowned relay] packet in relay.manager?.relayRTP(packet, relay: relay) }
        peer.onRTCP = { [unowned relay] compound in relay.manager?.relayRTCP(compound, relay: relay) }
        room.relay = relay
        counters.relaysAttached &+= 1
        peer.drive(now: now)  // the first ICE check goes out now
        relay.lastDriven = now
        noteDeadline(now + RelaySource.setupDrive)
        return relay
    }

    /// Ends the room's relay from this side (the owner could not keep it, or shuts down).
    public func closeRelay(room: String, reason: String, now: Instant) {
        guard let r = rooms[room], let relay = r.relay else { return }
        stopRelay(relay, in: r, reason: reason, closing: true, now: now)
    }

    /// Whether the edge still wants a relay for `room`: it has viewers and no publisher here.
    public func wantsRelay(room: String) -> Bool {
        guard let r = rooms[room] else { return false }
        return r.publisher == nil && r.viewerCount > 0
    }

    /// The relay's socket received a datagram.
    func relayReceived(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, relay: RelaySource, now: Instant
    ) {
        guard let room = rooms[relay.room], room.relay === relay else { return }
        relay.receivedAt = now
        relay.peer.received(datagram, from: source, now: now)
        if !relay.isConnected {
            // DTLS starts as soon as ICE is up, not at the next drive.
            relay.peer.drive(now: now)
            relay.lastDriven = now
            if relay.peer.isConnected { relayConnected(relay, room: room, now: now) }
        }
        if relay.hasEnded { stopRelay(relay, in: room, reason: relay.peer.failed ?? "the origin closed the session", closing: false, now: now) }
    }

    /// ICE and DTLS are up: the origin's streams become the room's sources, as a publisher's
    /// tracks do when it connects.
    func relayConnected(_ relay: RelaySource, room: Room, now: Instant) {
        relay.connectedAt = now
        room.publisherLeftAt = nil
        for media in [relay.audio, relay.video].compactMap({ $0 }) {
            guard let kind = TrackKind(media.kind) else { continue }
            room.fanout(kind).attach(source: media)
        }
        updateShards(room)
        requestKeyframe(room: room, now: now)
    }

    /// One decrypted RTP packet from the origin: into the fan-out as a publisher's would go.
    func relayRTP(_ packet: RTPPacket, relay: RelaySource) {
        let now = relay.receivedAt
        guard relay.isConnected, let room = rooms[relay.room], room.relay === relay else { return }
        guard let kind = relay.kind(ssrc: packet.ssrc) else {
            relay.droppedUnknownSSRC &+= 1
            return
        }
        let length = UInt64(packet.buffer.count)
        relay.packetsIn &+= 1
        relay.bytesIn &+= length
        relay.lastPacketAt = now
        counters.relayPacketsIn &+= 1
        counters.relayBytesIn &+= length
        if kind == .video, relay.videoNacked,
            relay.videoNacks.received(sequenceNumber: packet.sequenceNumber, now: now) || relay.videoNacks.isDue(now: now)
        {
            sendRelayNack(relay, room: room, now: now)
        }
        var isKeyframe = false
        if kind == .video, let codec = relay.videoCodec {
            isKeyframe = KeyframeDetector.isKeyframe(codec: codec, payload: UnsafeRawBufferPointer(packet.payload))
        }
        let fanout = room.fanout(kind)
        if fanout.forward(packet, isKeyframe: isKeyframe, now: now, output: output) {
            tracksToFlush.append(fanout)
        }
        if !room.shards.isEmpty {
            sendToShards(room, UnsafeRawBufferPointer(packet.buffer), kind: kind, layer: 0, keyframe: isKeyframe)
        }
        noteDeadline(relay.videoNacks.nextDueTime)
    }

    /// RTCP from the origin: its sender reports, mapped to this room's outbound streams for
    /// the viewers here (audio/video sync), as a publisher's are.
    func relayRTCP(_ compound: RTCPCompound, relay: RelaySource) {
        let now = relay.receivedAt
        guard relay.isConnected, let room = rooms[relay.room], room.relay === relay else { return }
        for packet in compound {
            guard case .senderReport(let sr) = packet, let kind = relay.kind(ssrc: sr.ssrc) else { continue }
            let fanout = room.fanout(kind)
            guard fanout.currentSourceSSRC == sr.ssrc else { continue }
            fanout.senderReports.publisherReport(
                ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp), now: now)
            for viewer in fanout.viewers { sendSenderReport(fanout, to: viewer, now: now) }
            if !room.shards.isEmpty {
                sendReportToShards(
                    room, fanout: fanout, ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp))
            }
        }
    }

    /// A keyframe request upstream, through the relay (the throttle has let it pass).
    func sendRelayKeyframeRequest(room: Room) {
        guard let relay = room.relay, relay.isConnected, let media = relay.videoSSRC else { return }
        let sender = room.video.ssrc
        guard relay.peer.sendRTCP({ $0.addPictureLossIndication(senderSSRC: sender, mediaSSRC: media) }) else { return }
        relay.keyframeRequestsSent &+= 1
        counters.pliSent &+= 1
    }

    /// NACKs upstream the relay packets that are due (new gaps, retries).
    func sendRelayNack(_ relay: RelaySource, room: Room, now: Instant) {
        guard let media = relay.videoSSRC else { return }
        let sender = room.video.ssrc
        let sent = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 100) { buf -> Bool in
            let n = relay.videoNacks.collect(now: now, into: buf)
            guard n > 0 else { return false }
            let lost = UnsafeBufferPointer(rebasing: buf[0..<n])
            return relay.peer.sendRTCP { $0.addNack(senderSSRC: sender, mediaSSRC: media, lost: lost) }
        }
        if sent { relay.nacksSent &+= 1 }
    }

    /// The relay's timers (from `tick`): ICE checks and consent, DTLS start and retransmits,
    /// the set-up bound, keyframe requests held back, NACK retries.
    func driveRelay(_ relay: RelaySource, room: Room, now: Instant) {
        relay.peer.drive(now: now)
        relay.lastDriven = now
        if !relay.isConnected {
            if relay.peer.isConnected {
                relayConnected(relay, room: room, now: now)
            } else if now - relay.createdAt >= configuration.setupTimeout {
                stopRelay(relay, in: room, reason: "set-up with the origin timed out", closing: false, now: now)
                return
            }
        }
        if relay.hasEnded {
            stopRelay(relay, in: room, reason: relay.peer.failed ?? "the origin closed the session", closing: false, now: now)
            return
        }
        guard relay.isConnected else { return }
        if room.video.keyframeThrottle.retryDue(now: now) { sendRelayKeyframeRequest(room: room) }
        if relay.videoNacks.isDue(now: now) { sendRelayNack(relay, room: room, now: now) }
    }

    /// When the relay next needs `driveRelay`.
    func relayDeadline(_ relay: RelaySource, room: Room) -> Instant? {
        guard relay.isConnected else { return relay.lastDriven + RelaySource.setupDrive }
        var t = relay.peer.ice.nextWakeUp
        t = Instant.earliest(t, relay.videoNacks.nextDueTime)
        return Instant.earliest(t, room.video.keyframeThrottle.nextRetryTime)
    }

    /// The relay is over: the room has no source any more (its viewers wait as for a publisher
    /// that left: the grace period runs from now), and the owner is told (`relayEnded`) to
    /// close the socket and, if the room still wants one, set a relay up again. `closing`:
    /// this side ends it (a DTLS close_notify tells the origin at once).
    func stopRelay(_ relay: RelaySource, in room: Room, reason: String, closing: Bool, now: Instant) {
        guard room.relay === relay else { return }
        if closing { relay.peer.close(now: now) }
        relay.endReason = reason
        room.relay = nil
        relay.peer.onRTP = nil
        relay.peer.onRTCP = nil
        if relay.isConnected {
            room.audio.flushPending(output: output)
            room.video.flushPending(output: output)
            room.audio.detachSource()
            room.video.detachSource()
            room.publisherLeftAt = now
            updateShards(room)
        }
        counters.relaysEnded &+= 1
        relayEnded?(relay)
    }
}
