import Reactor

/// A new session from an offer; its DTLS events; connected once DTLS is done and ICE has
/// nominated an address.
extension RoomManager {
    func makeSession(
        role: PeerSession.Role, room: Room, offer: SessionDescription, role answerRole: AnswerRole,
        setupClient: PendingSessionsByIP.Key?, now: Instant
    ) throws(RoomError) -> (PeerSession, String) {
        guard sessions.count < configuration.maxSessions else {
            removeIfEmpty(room)
            throw .tooManySessions(limit: configuration.maxSessions)
        }
        do {
            _ = try identity.materials()  // made on the first offer (DTLSIdentity.deferred)
        } catch {
            removeIfEmpty(room)
            throw .internalError("DTLS identity: \(error)")  // the server's fault, not the offer's
        }
        let ufrag = sessions.freshUfrag()
        let password = RandomToken.iceString(length: 24)
        let parameters = AnswerParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: identity.localFingerprint.value,
            // Publishers get transport-cc feedback (TransportCCFeedback); viewers' copies are
            // numbered and their feedback drives a bandwidth estimate (ViewerBandwidth).
            candidates: candidateAddresses,
            sendTransportCC: role == .publisher ? configuration.sendTransportCC : configuration.viewerTransportCC,
            sessionID: RandomToken.value(in: 1...UInt64(Int64.max)))
        let answer: SDPAnswer
        do {
            answer = try AnswerBuilder.buildAnswer(offer: offer, parameters: parameters, role: answerRole)
        } catch {
            removeIfEmpty(room)
            counters.offersRejected &+= 1
            throw error.httpStatus == 422 ? .unusableOffer(error.description) : .badOffer(error.description)
        }
        let fingerprints = answer.remoteFingerprints
        guard let fp = fingerprints.first(where: { $0.algorithm == "sha-256" }) ?? fingerprints.first else {
            removeIfEmpty(room)
            throw .unusableOffer("the offer has no DTLS fingerprint")
        }
        let dtls: DTLSTransport
        do {
            dtls = try DTLSTransport(
                identity: identity, role: .server, remoteFingerprint: (fp.algorithm, fp.value))
        } catch {
            removeIfEmpty(room)
            throw .unusableOffer("DTLS fingerprint: \(error)")
        }
        let ice = IceLiteAgent(
            localUfrag: ufrag, localPassword: password, remoteUfrag: answer.remoteICEUfrag,
            remotePassword: answer.remoteICEPassword)
        let session = PeerSession(
            id: Self.sessionID(core: coreIndex), role: role, roomName: room.name, ice: ice, dtls: dtls,
            tracks: answer.media, now: now, bandwidthTrace: configuration.bandwidthTrace)
        session.remoteUfrag = answer.remoteICEUfrag
        sessions.add(session, setupClient: setupClient)
        noteDeadline(now + configuration.setupTimeout)
        setupsSinceTrim &+= 1
        counters.sessionsCreated &+= 1
        return (session, answer.sdp)
    }

    /// 32 hex digits: the core's index in the first three (so a session URL reaches the core
    /// its session is on, a shard's included: `core(ofSession:)`), 116 random bits after.
    static func sessionID(core: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        let prefix = [digits[core >> 8 & 15], digits[core >> 4 & 15], digits[core & 15]]
        return String(decoding: prefix, as: UTF8.self) + RandomToken.hex(bytes: 15).dropLast()
    }

    /// The core a session ID names (`sessionID(core:)`), nil when it names none.
    public static func core(ofSession id: String) -> Int? {
        let prefix = id.utf8.prefix(3)
        guard id.utf8.count == 32, prefix.count == 3 else { return nil }
        var core = 0
        for c in prefix {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): core = core << 4 | Int(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): core = core << 4 | Int(c - UInt8(ascii: "a") + 10)
            default: return nil
            }
        }
        return core
    }

    /// Host candidates: every configured IP with this core's UDP port.
    var candidateAddresses: [SocketAddress] {
        let port = mediaPort
        guard port != 0 else { return [] }
        return configuration.candidateIPs.compactMap { SocketAddress(ip: $0, port: port) }
    }

    /// A session is connected — media flows, consent expiry applies, it leaves the set-up
    /// list — once DTLS is done *and* ICE has nominated an address. DTLS may finish first
    /// (a browser starts it as soon as a check succeeds, before it nominates), but media goes
    /// only to a nominated address (RFC 8445: a lite agent's selected pair is the one the
    /// controlling peer nominated), so a peer that never
    /// nominates stays in set-up and ends at the set-up timeout instead of holding its
    /// session, and its room name, forever.
    func completeSetupIfReady(_ s: PeerSession, now: Instant) {
        guard s.state == .waitingForICE || s.state == .connecting, s.srtp != nil, s.address != nil else { return }
        let limit = configuration.maxViewersPerRoom
        if s.role == .viewer, limit > 0, let room = rooms[s.roomName], room.shardSource == nil,
            room.connectedViewers + room.viewersElsewhere >= limit
        {
            // Admitted within the set-up allowance, but the room filled up meanwhile: the
            // limit holds for connected viewers, so this one ends (its DTLS close_notify tells
            // the client) rather than push the room past MAX_SUBS_PER_ROOM.
            counters.refusedRoomFull &+= 1
            end(s, reason: .roomFull, now: now)
            return
        }
        s.state = .connected
        s.connectedAt = now
        lifecycle.note(s, .connected, now: now)
        sessions.leaveSetup(s)
        if s.role == .viewer, let room = rooms[s.roomName] { room.connectedViewers += 1 }
        sessionConnected(s, now: now)
    }

    /// Sends every datagram DTLS has queued, then acts on its events.
    func flushDTLS(_ s: PeerSession, to address: SocketAddress, now: Instant) {
        output.sendQueuedDatagrams(of: s.dtls, to: s.address ?? address)
        noteDeadline(s.dtls.nextTimeout)
        while let event = s.dtls.pollEvent() {
            switch event {
            case .connected(let keys):
                do {
                    try s.installKeys(keys)
                } catch {
                    counters.dtlsFailures &+= 1
                    end(s, reason: .failed, now: now)
                    return
                }
                lifecycle.note(s, .dtlsConnected, now: now)
                // DTLS ran with `address`: a later first nomination elsewhere is confirmed.
                if s.address == nil { s.ice.reachableAddress = address }
                completeSetupIfReady(s, now: now)
            case .peerMissedFinished:
                // A viewer connected in our view but not yet in its own: its start (and what
                // followed) reached it before it had the keys. Start it again; one still
                // being started goes back to its keyframe (at most once per
                // `TrackFanout.catchUpRewindInterval`: each of the client's retransmitted
                // Finished says the same).
                // One that has sent us SRTCP has its keys: the Finished is a stale copy.
                if s.role == .viewer, s.state == .connected, !s.sentSRTCP, let room = rooms[s.roomName] {
                    counters.viewerKeyframesReRequested &+= 1
                    if let track = s.videoTrack, track.catchingUp {
                        room.fanout(of: track).rewindCatchUp(track, now: now)
                    } else {
                        startViewerPicture(s, room: room, again: true, now: now)
                    }
                }
            case .closed:
                end(s, reason: .dtlsClosed, now: now)
                return
            case .failed:
                counters.dtlsFailures &+= 1
                end(s, reason: .failed, now: now)
                return
            }
        }
    }

    func sessionConnected(_ s: PeerSession, now: Instant) {
        guard let room = rooms[s.roomName] else { return }
        switch s.role {
        case .publisher:
            for media in s.tracks {
                guard let kind = TrackKind(media.kind) else { continue }
                if kind == .video { room.setVideoLayers(max(media.simulcastRIDs.count, 1)) }
                for f in room.fanouts where f.kind == kind { f.attach(source: media) }
            }
            updateShards(room)
            startRecording(room, publisher: s, now: now)
            requestKeyframe(room: room, now: now)
        case .viewer:
            startViewerPicture(s, room: room, now: now)
        }
    }

    /// A viewer needs a keyframe to start decoding: the latest one out of the history
    /// (instant start), else a fresh one from the publisher. `again`: it lost what it was
    /// sent (`TrackFanout.restartCatchUp`).
    func startViewerPicture(_ s: PeerSession, room: Room, again: Bool = false, now: Instant) {
        let track = s.videoTrack
        let layer = track.map(room.fanout(of:)) ?? room.video
        refillCatchUpBudget(now: now)
        if let track,
            again
                ? layer.restartCatchUp(track, now: now, budget: &catchUpBudget, output: output)
                : layer.startCatchUp(track, now: now, budget: &catchUpBudget, output: output)
        {
            noteDeadline(layer.nextCatchUpTime)
            return
        }
        counters.instantStartsUnavailable &+= 1
        requestKeyframe(room: room, layer: layer.layer, now: now)
    }
}
