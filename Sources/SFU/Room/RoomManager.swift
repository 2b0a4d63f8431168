import CShim
import Reactor

/// All rooms of one core and the demultiplexer of that core's UDP media socket. Every
/// datagram of a room arrives on the socket of the core that owns the room (its answer
/// advertised this core's port), so nothing here is shared with another thread.
public final class RoomManager: UDPReceiver {
    public let coreIndex: Int
    public var configuration: RoomManagerConfiguration
    let identity: DTLSIdentity
    /// The core's media socket; set once by the owner after `openUDP`.
    public var socket: UDPSocket?
    /// This core's smoothed busy fraction (0…1), read when a session is offered (admission
    /// control, `configuration.maxCoreLoad`). The owner wires it to its loop's
    /// `EventLoop.load`; tests inject a value. Called on this core only.
    public var coreLoad: () -> Double = { 0 }

    private(set) var rooms: [String: Room] = [:]
    private var sessions: [String: PeerSession] = [:]
    private var byUfrag: [String: PeerSession] = [:]
    private var byAddress: [SocketAddress: PeerSession] = [:]
    /// Sessions whose set-up is still running (ticked for DTLS retransmits and the set-up
    /// timeout): every session until DTLS is done *and* ICE has nominated an address.
    private var pending: [PeerSession] = []
    /// Sessions in set-up per client IP (`configuration.maxPendingSessionsPerIP`).
    private var pendingByIP = PendingSessionsByIP()
    /// Sessions confirming a new address before media moves there (`IceLiteAgent.pollProbe`).
    private var probing: [PeerSession] = []
    /// Sessions that ended by themselves (DTLS close, BYE, timeouts) in the last minute, by id
    /// and room, so a client's late DELETE still gets a 200 rather than a 404. Bounded.
    private var recentlyEnded: [String: (room: String, at: Instant)] = [:]
    static let recentlyEndedLimit = 10_000
    private var lastSlowTick = Instant(nanoseconds: 0)
    /// Sessions set up since the heap was last trimmed (see `tick`).
    private var setupsSinceTrim = 0
    private var lastTrim = Instant(nanoseconds: 0)
    /// Tracks holding packets of the current receive batch (see `TrackFanout.forward`).
    private var tracksToFlush: [TrackFanout] = []
    /// Counters of this core, closed rooms' fan-out drops included (see `mediaCounters`).
    public private(set) var counters = RoomCounters()

    public init(coreIndex: Int, identity: DTLSIdentity, configuration: RoomManagerConfiguration) {
        self.coreIndex = coreIndex
        self.identity = identity
        self.configuration = configuration
        tracksToFlush.reserveCapacity(64)
    }

    // MARK: - Control plane (called on this core through the mailbox)

    /// WHIP: a publisher offers its media; answers with a recvonly SDP. `client`: the HTTP
    /// request's remote address, for the per-IP cap on sessions in set-up (nil: not capped).
    public func publish(
        room name: RoomName, offer: SessionDescription, client: SocketAddress? = nil, now: Instant
    ) throws(RoomError) -> SessionCreated {
        let setupClient = try admitClient(client)
        // A publisher for a room that already exists (viewers waiting for it, a reconnect)
        // serves sessions admitted earlier, so only a new room is subject to the core's load.
        if rooms[name.value] == nil { try admit() }
        let room = try room(named: name.value, now: now)
        if let existing = room.publisher, existing.state != .closed {
            removeIfEmpty(room)
            throw .publisherExists
        }
        let (session, answer) = try makeSession(
            role: .publisher, room: room, offer: offer, role: .publisher, setupClient: setupClient, now: now)
        room.publisher = session
        room.publisherSessions &+= 1
        room.publisherLeftAt = nil
        return SessionCreated(sessionID: session.id, answer: answer, etag: session.etag)
    }

    /// WHEP: a viewer offers to receive; answers with sendonly m-lines carrying the room's
    /// outbound tracks (also before any publisher has arrived).
    public func play(
        room name: RoomName, offer: SessionDescription, client: SocketAddress? = nil, now: Instant
    ) throws(RoomError) -> SessionCreated {
        let setupClient = try admitClient(client)
        try admit()
        let room = try room(named: name.value, now: now)
        // Connected viewers count toward the limit; viewers still setting up only within the
        // set-up allowance, so offers that never connect cannot keep real viewers out.
        let limit = configuration.maxViewersPerRoom
        if limit > 0,
            room.connectedViewers >= limit
                || room.connectedViewers + room.viewersInSetup >= limit + configuration.viewerSetupAllowance
        {
            removeIfEmpty(room)
            counters.refusedRoomFull &+= 1
            throw .roomFull(limit: limit)
        }
        let specs = [room.audio, room.video].map { f in
            OutboundTrackSpec(
                kind: f.kind.mediaKind, streamID: f.streamID, trackID: f.trackID, ssrc: f.ssrc,
                rtxSSRC: f.kind == .video ? f.rtxSSRC : nil, cname: f.cname, codec: f.source?.codec)
        }
        let (session, answer) = try makeSession(
            role: .viewer, room: room, offer: offer, role: .viewer(tracks: specs), setupClient: setupClient, now: now)
        room.addViewer(session)
        for media in session.tracks where media.direction.sends {
            guard let kind = TrackKind(media.kind) else { continue }
            let track = ViewerTrack(session: session, kind: kind, media: media)
            session.viewerTracks.append(track)
            room.fanout(kind).add(track)
        }
        return SessionCreated(sessionID: session.id, answer: answer, etag: session.etag)
    }

    /// DELETE on a session URL. Returns false when there is no such session in that room.
    @discardableResult
    public func endSession(room: String, id: String, now: Instant) -> Bool {
        guard let s = sessions[id], s.roomName == room else {
            return recentlyEnded.removeValue(forKey: id).map { $0.room == room } ?? false
        }
        end(s, reason: .deleted, now: now)
        return true
    }

    /// Admin: ends every session of a room. Returns false when the room does not exist.
    @discardableResult
    public func closeRoom(_ name: String, now: Instant) -> Bool {
        guard let room = rooms[name] else { return false }
        if let p = room.publisher { end(p, reason: .roomClosed, now: now) }
        for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
        if rooms[name] === room { forget(room) }
        return true
    }

    /// Ends everything (graceful shutdown): DTLS close_notify goes out to every peer.
    public func shutdown(now: Instant) {
        for s in Array(sessions.values) { end(s, reason: .shutdown, now: now) }
    }

    /// The session's ETag, for PATCH/If-Match handling.
    public func etag(room: String, id: String) -> String? {
        guard let s = sessions[id], s.roomName == room else { return nil }
        return s.etag
    }

    /// PATCH (RFC 9725 §4.3): trickled candidates are accepted and ignored (an ICE-lite
    /// server learns addresses from checks); new credentials restart ICE.
    public func patch(room: String, id: String, fragment: TrickleFragment, ifMatch: String?, now: Instant)
        -> Result<PatchOutcome, RoomError>
    {
        guard let s = sessions[id], s.roomName == room else { return .failure(.sessionNotFound) }
        if let ifMatch, ifMatch != "*", ifMatch != s.etag { return .failure(.preconditionFailed) }
        guard let (remoteUfrag, remotePassword) = fragment.credentials, remoteUfrag != s.remoteUfrag else {
            return .success(.trickleAccepted)
        }
        guard ifMatch != nil else { return .failure(.preconditionRequired) }
        var ufrag = RandomToken.iceString(length: 8)
        while byUfrag[ufrag] != nil { ufrag = RandomToken.iceString(length: 8) }
        let password = RandomToken.iceString(length: 24)
        byUfrag[s.ice.localUfrag] = nil
        byUfrag[ufrag] = s
        s.restartICE(localUfrag: ufrag, localPassword: password, remoteUfrag: remoteUfrag, remotePassword: remotePassword)
        let fragmentText = TrickleFragment(
            iceUfrag: ufrag, icePassword: password, hostCandidates: candidateAddresses, mids: s.tracks.map(\.mid)
        ).text
        return .success(.restarted(fragment: fragmentText, etag: s.etag))
    }

    // MARK: - Session set-up

    /// The per-IP cap on sessions in set-up: refuses a client whose IP already has
    /// `maxPendingSessionsPerIP` sessions on this core that have not connected. Returns the
    /// key the new session counts against (nil when the IP is unknown or the cap is off).
    private func admitClient(_ client: SocketAddress?) throws(RoomError) -> PendingSessionsByIP.Key? {
        let limit = configuration.maxPendingSessionsPerIP
        guard limit > 0, let client else { return nil }
        let key = PendingSessionsByIP.key(for: client)
        guard pendingByIP.count(for: key) < limit else {
            counters.refusedPendingPerIP &+= 1
            throw .tooManyPendingSessions(limit: limit, retryAfter: configuration.pendingRetryAfterSeconds)
        }
        return key
    }

    /// Admission control: refuses a new session while this core is saturated, so the sessions
    /// it already serves keep their quality and the client can retry later or elsewhere.
    private func admit() throws(RoomError) {
        let limit = configuration.maxCoreLoad
        guard limit > 0 else { return }
        let load = coreLoad()
        guard load > limit else { return }
        counters.refusedCoreBusy &+= 1
        throw .coreBusy(load: load, limit: limit, retryAfter: configuration.coreBusyRetryAfterSeconds)
    }

    private func room(named name: String, now: Instant) throws(RoomError) -> Room {
        if let r = rooms[name] { return r }
        guard rooms.count < configuration.maxRooms else { throw .tooManyRooms(limit: configuration.maxRooms) }
        let r = Room(name: name, now: now, videoHistoryStartBytes: configuration.videoHistoryStartBytes)
        rooms[name] = r
        counters.roomsCreated &+= 1
        return r
    }

    private func removeIfEmpty(_ room: Room) {
        if room.isEmpty, rooms[room.name] === room { forget(room) }
    }

    private func forget(_ room: Room) {
        counters.addDrops(of: room)
        rooms[room.name] = nil
    }

    /// The core's counters with the live rooms' fan-out drops added (for `/metrics`).
    public var mediaCounters: RoomCounters {
        var c = counters
        for room in rooms.values {
            c.addDrops(of: room)
        }
        return c
    }

    private func makeSession(
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
        var ufrag = RandomToken.iceString(length: 8)
        while byUfrag[ufrag] != nil { ufrag = RandomToken.iceString(length: 8) }
        let password = RandomToken.iceString(length: 24)
        let parameters = AnswerParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: identity.localFingerprint.value,
            // Publishers get transport-cc feedback (TransportCCFeedback); viewers' congestion
            // control is not driven by this server, so it is not negotiated with them.
            candidates: candidateAddresses, sendTransportCC: role == .publisher && configuration.sendTransportCC,
            sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
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
            id: RandomToken.hex(bytes: 16), role: role, roomName: room.name, ice: ice, dtls: dtls,
            tracks: answer.media, now: now)
        session.remoteUfrag = answer.remoteICEUfrag
        sessions[session.id] = session
        byUfrag[ufrag] = session
        pending.append(session)
        if let setupClient {
            session.setupClient = setupClient
            pendingByIP.add(setupClient)
        }
        setupsSinceTrim &+= 1
        counters.sessionsCreated &+= 1
        return (session, answer.sdp)
    }

    /// Host candidates: every configured IP with this core's UDP port.
    private var candidateAddresses: [SocketAddress] {
        guard let port = socket?.localAddress.port else { return [] }
        return configuration.candidateIPs.compactMap { SocketAddress(ip: $0, port: port) }
    }

    // MARK: - Media path

    public func received(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, on socket: UDPSocket, now: Instant
    ) {
        switch PacketKind.classify(UnsafeRawBufferPointer(datagram)) {
        case .stun:
            handleSTUN(datagram, from: source, socket: socket, now: now)
        case .dtls:
            guard let s = byAddress[source] else {
                counters.droppedUnknownSource &+= 1
                return
            }
            s.dtls.handle(datagram: UnsafeRawBufferPointer(datagram), now: now)
            flushDTLS(s, to: source, socket: socket, now: now)
        case .rtp:
            guard let s = byAddress[source] else {
                counters.droppedUnknownSource &+= 1
                return
            }
            handleRTP(datagram, session: s, socket: socket, now: now)
        case .rtcp:
            guard let s = byAddress[source] else {
                counters.droppedUnknownSource &+= 1
                return
            }
            handleRTCP(datagram, session: s, socket: socket, now: now)
        default:
            counters.droppedGarbage &+= 1
        }
    }

    /// The receive batch ended: each track that took packets fans them out now.
    public func batchEnded(on socket: UDPSocket, now: Instant) {
        guard !tracksToFlush.isEmpty else { return }
        for track in tracksToFlush { track.flushPending(socket: socket) }
        tracksToFlush.removeAll(keepingCapacity: true)
    }

    private func handleSTUN(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, socket: UDPSocket, now: Instant
    ) {
        let bytes = UnsafeRawBufferPointer(datagram)
        var found = byAddress[source]
        if found == nil {
            // First packet from this address: route by the local ufrag in USERNAME.
            guard let message = try? StunMessage(parsing: bytes), let user = message.username,
                let colon = user.firstIndex(of: ":")
            else {
                counters.stunUnknownUfrag &+= 1
                return
            }
            found = byUfrag[String(user[..<colon])]
        }
        guard let s = found, s.state != .closed else {
            counters.stunUnknownUfrag &+= 1
            return
        }
        var result: IceLiteAgent.Result?
        _ = socket.send(to: source, capacity: 512) { reply in
            let r = s.ice.handle(stun: bytes, from: source, now: now, reply: reply)
            result = r
            return r.replyLength
        }
        guard let result else { return }
        if let rejection = result.rejection {
            counters.stunRejected &+= 1
            if rejection == .replayedTransaction { counters.stunReplaysRefused &+= 1 }
        }
        if byAddress[source] !== s, s.ice.isAddressValidated(source) {
            if let previous = byAddress[source], previous !== s { previous.routedAddresses.removeAll { $0 == source } }
            byAddress[source] = s
            s.routedAddresses.append(source)
            // Bound the routes a peer can claim (a client trying many interfaces).
            if s.routedAddresses.count > 8 {
                let old = s.routedAddresses.removeFirst()
                if byAddress[old] === s, old != s.ice.selectedAddress { byAddress[old] = nil }
            }
        }
        if s.state == .waitingForICE, s.ice.isAddressValidated(source) { s.state = .connecting }
        if result.selectedAddressChanged, let selected = s.ice.selectedAddress {
            if s.address != nil { counters.iceAddressMoves &+= 1 }
            s.address = selected
            completeSetupIfReady(s, now: now)
        }
        if s.ice.probeAddress != nil {
            sendProbe(s, socket: socket, now: now)
            if !probing.contains(where: { $0 === s }) { probing.append(s) }
        }
        if result.moveRateLimited { counters.iceMovesRateLimited &+= 1 }
    }

    /// Sends the session's confirmation request for a new address when one is due.
    private func sendProbe(_ s: PeerSession, socket: UDPSocket, now: Instant) {
        guard let target = s.ice.probeAddress else { return }
        _ = socket.send(to: target, capacity: 512) { out in
            guard let (length, to) = s.ice.pollProbe(now: now, out: out), to == target else { return 0 }
            return length
        }
    }

    /// A session is connected — media flows, consent expiry applies, it leaves the set-up
    /// list — once DTLS is done *and* ICE has nominated an address. DTLS may finish first
    /// (a browser starts it as soon as a check succeeds, before it nominates), but media goes
    /// only to a nominated address (RFC 8445: a lite agent's selected pair is the one the
    /// controlling peer nominated), so a peer that never
    /// nominates stays in set-up and ends at the set-up timeout instead of holding its
    /// session, and its room name, forever.
    private func completeSetupIfReady(_ s: PeerSession, now: Instant) {
        guard s.state == .waitingForICE || s.state == .connecting, s.srtp != nil, s.address != nil else { return }
        let limit = configuration.maxViewersPerRoom
        if s.role == .viewer, limit > 0, let room = rooms[s.roomName], room.connectedViewers >= limit {
            // Admitted within the set-up allowance, but the room filled up meanwhile: the
            // limit holds for connected viewers, so this one ends (its DTLS close_notify tells
            // the client) rather than push the room past MAX_SUBS_PER_ROOM.
            counters.refusedRoomFull &+= 1
            end(s, reason: .roomFull, now: now)
            return
        }
        s.state = .connected
        s.connectedAt = now
        leaveSetup(s)
        if s.role == .viewer, let room = rooms[s.roomName] { room.connectedViewers += 1 }
        sessionConnected(s, now: now)
    }

    /// The session is no longer being set up (connected or ended).
    private func leaveSetup(_ s: PeerSession) {
        pending.removeAll { $0 === s }
        if let key = s.setupClient {
            pendingByIP.remove(key)
            s.setupClient = nil
        }
    }

    /// Sends every datagram DTLS has queued, then acts on its events.
    private func flushDTLS(_ s: PeerSession, to address: SocketAddress, socket: UDPSocket, now: Instant) {
        socket.sendQueuedDatagrams(of: s.dtls, to: s.address ?? address)
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
                // DTLS ran with `address`: a later first nomination elsewhere is confirmed.
                if s.address == nil { s.ice.reachableAddress = address }
                completeSetupIfReady(s, now: now)
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

    private func sessionConnected(_ s: PeerSession, now: Instant) {
        guard let room = rooms[s.roomName] else { return }
        switch s.role {
        case .publisher:
            for media in s.tracks {
                guard let kind = TrackKind(media.kind) else { continue }
                room.fanout(kind).attach(source: media)
            }
            startRecording(room, publisher: s, now: now)
            requestKeyframe(room: room, now: now)
        case .viewer:
            // A late viewer needs a keyframe to start decoding.
            requestKeyframe(room: room, now: now)
        }
    }

    private func handleRTP(
        _ datagram: UnsafeMutableRawBufferPointer, session s: PeerSession, socket: UDPSocket, now: Instant
    ) {
        guard s.role == .publisher, let srtp = s.srtp, s.state == .connected else {
            counters.droppedUnexpectedRTP &+= 1
            return
        }
        let length: Int
        do {
            length = try srtp.unprotectRTP(datagram, length: datagram.count)
        } catch {
            countSRTPError(error, session: s)
            return
        }
        let packet = UnsafeMutableRawBufferPointer(rebasing: datagram[0..<length])
        guard var view = try? RTPPacket(parsing: packet) else {
            counters.droppedMalformed &+= 1
            return
        }
        s.packetsIn &+= 1
        s.bytesIn &+= UInt64(length)
        // Every packet of the transport counts for congestion control, RTX and probes included.
        if s.transportCC != nil, let tseq = view.transportSequenceNumber(id: s.transportCCExtensionID) {
            s.transportCC?.record(sequenceNumber: tseq, arrival: now)
            if s.transportCC?.isDue(now: now) == true, let room = rooms[s.roomName] {
                sendTransportFeedback(s, room: room, now: now)
            }
        }
        guard var stream = s.inboundStream(ssrc: view.ssrc, payloadType: view.payloadType) else {
            counters.droppedUnknownSSRC &+= 1
            srtp.forgetInboundStream(ssrc: view.ssrc)  // no libsrtp state for an SSRC we refused
            return
        }
        guard let room = rooms[s.roomName] else { return }
        var repaired = false
        if stream.isRTX {
            // A repair (RFC 4588): back to the original packet, then on like any other.
            guard let primary = s.inbound.first(where: { !$0.isRTX && $0.kind == stream.kind }) else {
                counters.droppedPublisherRTX &+= 1
                return
            }
            let n: Int
            do {
                n = try RTXPacketizer.unwrap(view, ssrc: primary.ssrc, payloadType: primary.media.payloadType)
            } catch {
                counters.publisherRTXProbes &+= 1  // padding-only bandwidth probe
                return
            }
            guard let original = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<n]))
            else {
                counters.droppedMalformed &+= 1
                return
            }
            // Only a packet we are missing is forwarded: browsers also send RTX copies of
            // packets already received, as bandwidth probes.
            guard primary.nackGenerator.repairArrived(sequenceNumber: original.sequenceNumber, now: now) else {
                counters.publisherRTXProbes &+= 1
                return
            }
            view = original
            stream = primary
            repaired = true
            primary.repaired &+= 1
            counters.publisherRTXRepaired &+= 1
        }
        stream.receptionStats.record(
            sequenceNumber: view.sequenceNumber, timestamp: view.timestamp, arrival: now, updateJitter: !repaired)
        if !repaired, stream.media.feedback.contains(.nack),
            stream.nackGenerator.received(sequenceNumber: view.sequenceNumber, now: now)
                || stream.nackGenerator.isDue(now: now)
        {
            sendNack(s, stream: stream, room: room, now: now)
        }
        var isKeyframe = false
        if stream.kind == .video, let codec = VideoCodec(stream.media.codecName) {
            isKeyframe = KeyframeDetector.isKeyframe(codec: codec, payload: UnsafeRawBufferPointer(view.payload))
        }
        let fanout = room.fanout(stream.kind)
        if fanout.forward(view, isKeyframe: isKeyframe, now: now, socket: socket) {
            tracksToFlush.append(fanout)
        }
        if fanout.recorder?.takeKeyframeRequest() == true { requestKeyframe(room: room, now: now) }
    }

    private func countSRTPError(_ error: SRTPError, session s: PeerSession) {
        if case .tooManyStreams = error {
            counters.droppedTooManySSRCs &+= 1
        } else {
            s.srtpErrors &+= 1
            counters.droppedSRTPErrors &+= 1
        }
    }

    private func handleRTCP(
        _ datagram: UnsafeMutableRawBufferPointer, session s: PeerSession, socket: UDPSocket, now: Instant
    ) {
        guard let srtp = s.srtp, s.state == .connected else {
            counters.droppedUnexpectedRTP &+= 1
            return
        }
        let length: Int
        do {
            length = try srtp.unprotectRTCP(datagram, length: datagram.count)
        } catch {
            countSRTPError(error, session: s)
            return
        }
        guard let room = rooms[s.roomName] else { return }
        guard let compound = try? RTCPCompound(parsing: UnsafeMutableRawBufferPointer(rebasing: datagram[0..<length]))
        else {
            counters.droppedMalformed &+= 1
            return
        }
        var sawBye = false
        var wantsKeyframe = false
        for packet in compound {
            switch packet {
            case .pli, .fir:
                if s.role == .viewer {
                    s.pliReceived &+= 1
                    wantsKeyframe = true
                }
            case .nack(let nack):
                s.nackReceived &+= 1
                if s.role == .viewer { answerNack(nack, viewer: s, room: room, socket: socket, now: now) }
            case .receiverReport(let rr):
                if s.role == .viewer {
                    for i in 0..<rr.reportCount { readViewerReport(rr.reportBlock(at: i), viewer: s, room: room, now: now) }
                }
            case .senderReport(let sr):
                if s.role == .publisher {
                    forwardSenderReport(sr, publisher: s, room: room, socket: socket, now: now)
                } else {
                    for i in 0..<sr.reportCount { readViewerReport(sr.reportBlock(at: i), viewer: s, room: room, now: now) }
                }
            case .bye:
                sawBye = true
            default:
                break
            }
        }
        if wantsKeyframe {
            counters.pliFromViewers &+= 1
            requestKeyframe(room: room, now: now)
        }
        if sawBye, s.role == .publisher { end(s, reason: .bye, now: now) }
    }

    /// Asks the publisher for a keyframe, at most once per throttle interval.
    private func requestKeyframe(room: Room, now: Instant) {
        guard room.video.keyframeThrottle.request(now: now) else { return }
        sendPLI(room: room)
    }

    private func sendPLI(room: Room) {
        guard let p = room.publisher, p.state == .connected, let address = p.address, let srtp = p.srtp, let socket
        else { return }
        // Before its first packet the stream is known only from the offer's a=ssrc (what the
        // keyframe request at connect, for viewers and recordings, goes to).
        let stream = p.inbound.first(where: { $0.kind == .video && !$0.isRTX })
        guard let media = stream?.media ?? p.tracks.first(where: { TrackKind($0.kind) == .video }),
            let mediaSSRC = stream?.ssrc ?? media.remoteSSRC
        else { return }
        let sender = room.video.ssrc
        // FIR (RFC 5104) only where the publisher negotiated it and not PLI.
        let useFIR = !media.feedback.contains(.pli) && media.feedback.contains(.fir)
        if useFIR { p.firSequence &+= 1 }
        let firSequence = p.firSequence
        let sent = socket.send(to: address, capacity: 64) { out in
            var writer = RTCPWriter(into: out)
            if useFIR {
                writer.addFullIntraRequest(senderSSRC: sender, mediaSSRC: mediaSSRC, sequenceNumber: firSequence)
            } else {
                writer.addPictureLossIndication(senderSSRC: sender, mediaSSRC: mediaSSRC)
            }
            guard let n = try? writer.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
        // Not counted when it was not queued: no buffer, a full queue, or SRTCP refused it.
        if sent { counters.pliSent &+= 1 }
    }

    // MARK: - Quality loop

    /// A viewer's NACK: each lost packet is resent from its track's history (RTX or plain),
    /// within the viewer's repeat and bandwidth limits.
    private func answerNack(
        _ nack: RTCPNack, viewer s: PeerSession, room: Room, socket: UDPSocket, now: Instant
    ) {
        let media = nack.mediaSSRC
        guard let track = s.viewerTracks.first(where: { room.fanout($0.kind).ssrc == media }) else {
            counters.nackUnknownSSRC &+= 1
            return
        }
        counters.nackPacketsFromViewers &+= 1
        let fanout = room.fanout(track.kind)
        nack.forEachLostSequence { seq in
            fanout.resend(sequenceNumber: seq, to: track, now: now, socket: socket)
        }
    }

    /// The follow-up copies of earlier repairs that are due (`NackResponder`).
    private func sendRepairFollowUps(_ room: Room, now: Instant) {
        guard let socket else { return }
        room.video.sendDueFollowUps(now: now, socket: socket)
        room.audio.sendDueFollowUps(now: now, socket: socket)
    }

    /// A viewer's report block about one of our outbound streams: loss and RTT figures, and
    /// the RTT paces that viewer's NACK repeat suppression.
    private func readViewerReport(_ block: RTCPReportBlock, viewer s: PeerSession, room: Room, now: Instant) {
        for t in s.viewerTracks where room.fanout(t.kind).ssrc == block.ssrc {
            t.reports.receiverReport(block, now: now)
            t.nack.roundTripTime = t.reports.roundTripTime
        }
    }

    /// A publisher's SR: remembered for our RR's LSR/DLSR and, mapped to the outbound stream,
    /// sent on to every viewer of the track so they can sync audio and video.
    private func forwardSenderReport(
        _ sr: RTCPSenderReport, publisher p: PeerSession, room: Room, socket: UDPSocket, now: Instant
    ) {
        let ssrc = sr.ssrc
        guard let stream = p.inbound.first(where: { $0.ssrc == ssrc && !$0.isRTX }) else { return }
        stream.receptionStats.recordSenderReport(ntpTimestamp: sr.ntpTimestamp, now: now)
        let fanout = room.fanout(stream.kind)
        guard fanout.currentSourceSSRC == ssrc else { return }
        fanout.senderReports.publisherReport(
            ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp), now: now)
        fanout.recorder?.senderReport(
            ntpTimestamp: sr.ntpTimestamp, outboundRTPTimestamp: fanout.outboundTimestamp(sr.rtpTimestamp))
        for viewer in fanout.viewers { sendSenderReport(fanout, to: viewer, socket: socket, now: now) }
    }

    private func sendSenderReport(_ fanout: TrackFanout, to viewer: ViewerTrack, socket: UDPSocket, now: Instant) {
        let session = viewer.session
        guard session.state == .connected, let address = session.address, let srtp = session.srtp else { return }
        let ssrc = fanout.ssrc
        let cname = fanout.cname
        var ntp: UInt64?
        _ = socket.send(to: address, capacity: 200) { out in
            var w = RTCPWriter(into: out)
            ntp = fanout.senderReports.write(
                into: &w, ssrc: ssrc, packetCount: viewer.packetsSent, octetCount: viewer.bytesSent, now: now)
            w.addSourceDescription(ssrc: ssrc, cname: cname)
            guard ntp != nil, let n = try? w.finish(), let protected = try? srtp.protectRTCP(out, length: n) else {
                ntp = nil
                return 0
            }
            return protected
        }
        if let ntp {
            viewer.reports.senderReportSent(ntpTimestamp: ntp, now: now)
            counters.senderReportsToViewers &+= 1
        }
    }

    /// NACKs upstream the publisher packets that are due (new gaps, retries).
    private func sendNack(_ p: PeerSession, stream: InboundStream, room: Room, now: Instant) {
        guard p.state == .connected, let address = p.address, let srtp = p.srtp, let socket else { return }
        let sender = room.fanout(stream.kind).ssrc
        let media = stream.ssrc
        let generator = stream
        let sent = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 100) { buf -> Int in
            let n = generator.nackGenerator.collect(now: now, into: buf)
            guard n > 0 else { return 0 }
            let lost = UnsafeBufferPointer(rebasing: buf[0..<n])
            let queued = socket.send(to: address, capacity: 600) { out in
                var w = RTCPWriter(into: out)
                w.addNack(senderSSRC: sender, mediaSSRC: media, lost: lost)
                guard let len = try? w.finish() else { return 0 }
                return (try? srtp.protectRTCP(out, length: len)) ?? 0
            }
            return queued ? n : 0
        }
        guard sent > 0 else { return }
        p.nacksSent &+= 1
        counters.upstreamNacksSent &+= 1
        counters.upstreamNackedPackets &+= UInt64(sent)
    }

    /// Sends the publisher the transport-wide feedback that is pending.
    private func sendTransportFeedback(_ p: PeerSession, room: Room, now: Instant) {
        guard p.transportCC != nil, p.state == .connected, let address = p.address, let srtp = p.srtp, let socket
        else { return }
        let media = (p.inbound.first { !$0.isRTX && $0.kind == .video } ?? p.inbound.first)?.ssrc ?? 0
        let sender = room.video.ssrc
        // A long window (after a pause) may need more than one packet; bounded per call.
        for _ in 0..<4 {
            var built = false
            _ = socket.send(to: address, capacity: 1200) { out in
                var w = RTCPWriter(into: out)
                guard p.transportCC?.build(into: &w, senderSSRC: sender, mediaSSRC: media, now: now) == true,
                    let n = try? w.finish()
                else { return 0 }
                built = true
                return (try? srtp.protectRTCP(out, length: n)) ?? 0
            }
            guard built else { break }
            counters.transportFeedbacksSent &+= 1
        }
    }

    /// Receiver reports for the publisher's media streams (loss, jitter, LSR/DLSR for its RTT).
    private func sendReceiverReports(_ p: PeerSession, room: Room, now: Instant) {
        guard p.state == .connected, let address = p.address, let srtp = p.srtp, let socket else { return }
        var blocks: [RTCPReportBlock] = []  // once a second per publisher, not per packet
        for st in p.inbound where !st.isRTX {
            if let b = st.receptionStats.reportBlock(ssrc: st.ssrc, now: now) { blocks.append(b) }
        }
        guard !blocks.isEmpty else { return }
        let sender = room.video.ssrc
        let queued = socket.send(to: address, capacity: 8 + 24 * 31 + 64) { out in
            var w = RTCPWriter(into: out)
            w.addReceiverReport(ssrc: sender, reports: blocks.prefix(31))
            guard let n = try? w.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
        if queued { counters.receiverReportsSent &+= 1 }
    }

    private func sendREMB(_ p: PeerSession) {
        guard p.state == .connected, let address = p.address, let srtp = p.srtp, let socket,
            let room = rooms[p.roomName]
        else { return }
        let ssrcs = p.inbound.filter { !$0.isRTX }.map(\.ssrc)
        let bitrate = configuration.publisherMaxBitrate
        let sender = room.video.ssrc
        _ = socket.send(to: address, capacity: 96) { out in
            var writer = RTCPWriter(into: out)
            writer.addRemb(senderSSRC: sender, bitrate: bitrate, ssrcs: ssrcs)
            guard let n = try? writer.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
    }

    // MARK: - Time

    /// Drives DTLS retransmits, set-up timeouts, NACK retries, repair follow-ups and keyframe
    /// requests held back by the throttle (call every ~20–50 ms), and once a second consent
    /// expiry, REMB and receiver reports to publishers and the publisher grace period.
    public func tick(now: Instant) {
        // Publisher feedback that is due: transport-wide feedback, NACK retries; and the
        // follow-up copies of repairs to viewers.
        for room in rooms.values {
            sendRepairFollowUps(room, now: now)
            guard let p = room.publisher, p.state == .connected else { continue }
            advanceRecordings(room, now: now)
            if room.video.keyframeThrottle.retryDue(now: now) { sendPLI(room: room) }
            if p.transportCC?.isDue(now: now) == true { sendTransportFeedback(p, room: room, now: now) }
            for st in p.inbound where !st.isRTX && st.nackGenerator.isDue(now: now) {
                sendNack(p, stream: st, room: room, now: now)
            }
        }
        for s in pending {
            if now - s.createdAt >= configuration.setupTimeout {
                counters.setupTimeouts &+= 1
                end(s, reason: .setupTimeout, now: now)
                continue
            }
            if let t = s.dtls.nextTimeout, t <= now, let socket, let address = s.address {
                s.dtls.handleTimeout(now: now)
                flushDTLS(s, to: address, socket: socket, now: now)
            }
        }
        if !probing.isEmpty, let socket {
            probing.removeAll { $0.state == .closed || $0.ice.probeAddress == nil }
            for s in probing where s.ice.nextProbeTime.map({ !(now < $0) }) ?? false {
                sendProbe(s, socket: socket, now: now)
            }
        }
        guard now - lastSlowTick >= .seconds(1) else { return }
        lastSlowTick = now
        if setupsSinceTrim > 0, pending.isEmpty, now - lastTrim >= .seconds(10) {
            // A burst of joins is over: its handshake transients (certificates, handshake
            // buffers, key exchange) were freed, but glibc keeps the pages. Give them back;
            // at most every 10 s, as a trim walks (and locks) every arena.
            setupsSinceTrim = 0
            lastTrim = now
            _ = lsfu_malloc_trim()
        }
        if !recentlyEnded.isEmpty {
            recentlyEnded = recentlyEnded.filter { now - $0.value.at < .seconds(60) }
        }
        for s in Array(sessions.values) where s.state == .connected && s.ice.consentExpired(now: now) {
            counters.consentExpiries &+= 1
            end(s, reason: .consentExpired, now: now)
        }
        for room in Array(rooms.values) {
            // Each viewer's resend budget follows the stream's bitrate.
            for f in [room.audio, room.video] {
                let rate = f.currentBitrate(now: now)
                for v in f.viewers { v.nack.updateStreamBitrate(rate) }
            }
            if let p = room.publisher {
                sendREMB(p)
                sendReceiverReports(p, room: room, now: now)
            } else if configuration.publisherGrace.nanoseconds > 0,
                let since = room.publisherLeftAt ?? Optional(room.createdAt),
                now - since >= configuration.publisherGrace
            {
                for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
            }
            removeIfEmpty(room)
        }
    }

    // MARK: - Recording

    /// One recording per track of a publication that can be recorded (Opus, VP8, VP9, H.264,
    /// AV1), named as the Go server named them; the writer thread creates the files.
    private func startRecording(_ room: Room, publisher p: PeerSession, now: Instant) {
        guard let settings = configuration.recording else { return }
        let started = settings.wallClockMillis()
        let wallClockOffset = started * 1000 - Int64(now.nanoseconds / 1000)
        let publication = "\(room.name)_\(started / 1000)_\(p.id.prefix(8))"
        for media in p.tracks {
            guard let kind = TrackKind(media.kind) else { continue }
            let videoCodec = kind == .video ? VideoCodec(media.codecName) : nil
            guard kind == .video ? videoCodec != nil : media.codecName == .opus else { continue }
            let track = RecordingSettings.sanitisedTrackID(media.remoteMSID?.track) ?? "\(kind)"
            let file = RecordingFile(
                .init(
                    name: "\(room.name)_\(track)_\(started / 1000).\(TrackRecorder.fileExtension(videoCodec: videoCodec))",
                    room: room.name, track: track, kind: kind, codec: media.codecName.rawValue,
                    publication: publication, startedAtUnixMillis: started, clockRate: kind == .audio ? 48_000 : 90_000),
                queueBytes: kind == .audio ? settings.audioQueueBytes : settings.videoQueueBytes)
            let fanout = room.fanout(kind)
            fanout.recorder = TrackRecorder(
                file: file, counters: settings.counters, videoCodec: videoCodec, wallClockOffsetMicros: wallClockOffset)
            settings.counters.started.add(1, ordering: .relaxed)
            settings.counters.active.add(1, ordering: .relaxed)
            settings.register(file)
        }
    }

    /// Frames whose repair wait is over go to the files; keyframes the recordings need are
    /// asked for.
    private func advanceRecordings(_ room: Room, now: Instant) {
        for f in [room.audio, room.video] {
            guard let r = f.recorder else { continue }
            r.advance(now: now)
            if r.takeKeyframeRequest() { requestKeyframe(room: room, now: now) }
        }
    }

    /// The publication ended (left, DELETE, room closed, shutdown): its files are completed.
    private func finishRecordings(_ room: Room, now: Instant) {
        for f in [room.audio, room.video] {
            f.recorder?.finish(now: now)
            f.recorder = nil
        }
    }

    // MARK: - Tear-down

    private func end(_ s: PeerSession, reason: PeerSession.EndReason, now: Instant) {
        guard s.state != .closed else { return }
        if s.dtls.state == .connected, let socket, let address = s.address {
            s.dtls.close()
            socket.sendQueuedDatagrams(of: s.dtls, to: address)
        }
        s.state = .closed
        sessions[s.id] = nil
        byUfrag[s.ice.localUfrag] = nil
        for a in s.routedAddresses where byAddress[a] === s { byAddress[a] = nil }
        s.routedAddresses.removeAll()
        leaveSetup(s)
        probing.removeAll { $0 === s }
        counters.sessionsEnded[reason, default: 0] &+= 1
        if reason != .deleted, recentlyEnded.count < Self.recentlyEndedLimit {
            recentlyEnded[s.id] = (s.roomName, now)
        }
        guard let room = rooms[s.roomName] else { return }
        if room.publisher === s {
            // Its packets of the current receive batch are still held: they go out first.
            if let socket {
                room.audio.flushPending(socket: socket)
                room.video.flushPending(socket: socket)
            }
            room.publisher = nil
            finishRecordings(room, now: now)
            room.audio.detachSource()
            room.video.detachSource()
            room.publisherLeftAt = now
        } else {
            room.removeViewer(s)
            for t in s.viewerTracks { room.fanout(t.kind).remove(session: s) }
            s.viewerTracks.removeAll()
        }
        removeIfEmpty(room)
    }

    // MARK: - Figures

    /// Cumulative uplink loss of a publisher's media streams (0…1).
    static func uplinkLoss(_ p: PeerSession) -> Double {
        var lost: Int64 = 0
        var expected: Int64 = 0
        for st in p.inbound where !st.isRTX {
            let l = max(st.receptionStats.cumulativeLost, 0)
            lost += l
            expected += Int64(st.receptionStats.packetsReceived) + l
        }
        return expected > 0 ? Double(lost) / Double(expected) : 0
    }

    /// The RTT to a publisher, measured by its NACK round trips (`NackGenerator`): the video
    /// stream's, which NACKs most; else any stream's; nil before the first sample.
    static func publisherRTT(_ p: PeerSession) -> Duration? {
        let measured = p.inbound.filter { !$0.isRTX && $0.nackGenerator.roundTripTime != nil }
        return (measured.first { $0.kind == .video } ?? measured.first)?.nackGenerator.roundTripTime
    }

    /// Sessions by state, for metrics and tests.
    public var sessionCount: Int { sessions.count }
    public var sessionsByState: [(String, Int)] {
        var counts: [PeerSession.State: Int] = [:]
        for s in sessions.values { counts[s.state, default: 0] += 1 }
        return [PeerSession.State.waitingForICE, .connecting, .connected].map { ($0.rawValue, counts[$0] ?? 0) }
    }
    public var routedAddressCount: Int { byAddress.count }
    public var pendingCount: Int { pending.count }
    /// Client IPs with a session in set-up on this core.
    public var pendingClientCount: Int { pendingByIP.clientCount }

    /// A Sendable picture of every room on this core, for `/api/rooms` and `/metrics`.
    public func snapshot(now: Instant) -> [RoomSnapshot] {
        rooms.values.map { room in
            RoomSnapshot(
                name: room.name, core: coreIndex,
                publisher: room.publisher.map { p in
                    RoomSnapshot.Publisher(
                        state: p.state.rawValue, packets: p.packetsIn, bytes: p.bytesIn, srtpErrors: p.srtpErrors,
                        lossFraction: Self.uplinkLoss(p), nacksSent: p.nacksSent,
                        repairedPackets: p.inbound.reduce(0) { $0 &+ $1.repaired },
                        rttMillis: Self.publisherRTT(p).map { Double($0.nanoseconds) / 1e6 })
                },
                tracks: [room.audio, room.video].compactMap { f in
                    guard let source = f.source else { return nil }
                    let quality = f.viewerQuality()
                    return RoomSnapshot.Track(
                        kind: f.kind.description, codec: source.codecName.encodingName, ssrc: f.ssrc,
                        bitrate: f.currentBitrate(now: now), packetsIn: f.packetsIn, bytesIn: f.bytesIn,
                        packetsOut: f.packetsOut, bytesOut: f.bytesOut, keyframes: f.keyframes,
                        keyframeRequests: f.keyframeThrottle.requestsSent, nacksReceived: f.nackRequests,
                        nacksAnswered: f.nacksAnswered, rtxPackets: f.rtxPacketsOut, rtxBytes: f.rtxBytesOut,
                        viewerLoss: quality?.loss, viewerRTTMillis: quality?.rttMillis)
                },
                viewers: room.viewerCount,
                connectedViewers: room.viewersByID.values.filter { $0.state == .connected }.count,
                packetsIn: room.audio.packetsIn &+ room.video.packetsIn,
                bytesIn: room.audio.bytesIn &+ room.video.bytesIn,
                packetsOut: room.audio.packetsOut &+ room.video.packetsOut,
                bytesOut: room.audio.bytesOut &+ room.video.bytesOut,
                viewerDetails: room.viewersByID.values.map(Self.viewerFigures))
        }
    }

    /// One viewer's figures over its tracks; loss and RTT from its video track when it has one.
    static func viewerFigures(_ v: PeerSession) -> RoomSnapshot.Viewer {
        var f = RoomSnapshot.Viewer(
            state: v.state.rawValue, packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0,
            nacksAnswered: 0, rtxBytes: 0, plis: v.pliReceived)
        for t in v.viewerTracks.sorted(by: { $0.kind == .audio && $1.kind != .audio }) {
            f.packetsSent &+= t.packetsSent
            f.bytesSent &+= t.bytesSent
            f.nacks &+= t.nack.requested
            f.nacksAnswered &+= t.nack.resent
            f.rtxBytes &+= t.rtxBytesSent
            f.nackMissing &+= t.nack.missing
            f.nackRepeats &+= t.nack.suppressedRepeats
            f.nackOverBudget &+= t.nack.suppressedBudget &+ t.nack.suppressedFlood
            f.repairFollowUps &+= t.nack.followUpsSent
            if t.reports.reportsReceived > 0 {
                f.loss = t.reports.lossFraction  // video (sorted last) wins
                if let r = t.reports.roundTripTime { f.rttMillis = Double(r.nanoseconds) / 1e6 }
            }
        }
        return f
    }
}
