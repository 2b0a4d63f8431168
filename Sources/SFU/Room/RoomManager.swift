import Reactor

/// All rooms of one core, sans-IO: datagrams come in with their source and time
/// (`received`), what to send goes into `output`, and `nextTimeout` says when `tick` is due.
/// Every datagram of a room arrives at the core that owns the room (its answer advertised
/// this core's port), so nothing here is shared with another thread. On a server the
/// Reactor's `openUDP(bind:endpoint:queue:)` connects the core's socket to it and `Main`'s
/// `RoomTimer` its timer; the simulation in the tests drives it on a virtual clock instead.
/// The work is split by job, one file each:
/// - this file: the rooms, the control plane (WHIP/WHEP offers, DELETE, PATCH, admin close,
///   shutdown), admission and the end of a session;
/// - `RoomManager+Setup`: a new session from an offer, DTLS events, connected;
/// - `RoomManager+Receive`: each datagram to its session (`DatagramRoute`), ICE checks;
/// - `RoomManager+Ingest`: publisher RTP into the fan-out;
/// - `RoomManager+RTCP`: RTCP from peers (viewers' PLI/NACK/RR, publishers' SR/BYE);
/// - `RoomManager+Feedback`: the RTCP this server sends publishers (PLI/FIR, NACK,
///   transport-cc, RR, REMB), all through `RTCPSender`;
/// - `RoomManager+Timers`: what is due with time (`tick`);
/// - `RoomManager+Recording`: each publication's recordings;
/// - `RoomManager+Snapshot`: the figures for `/api/rooms` and `/metrics`.
/// Sessions and their lookups are in `SessionRegistry`.
public final class RoomManager: DatagramEndpoint {
    public let coreIndex: Int
    public var configuration: RoomManagerConfiguration
    let identity: DTLSIdentity
    /// Where every datagram this core sends goes; its owner hands them to the network.
    public let output: DatagramQueue
    /// The UDP port this core's peers reach it on (the host candidates' port); 0 until known.
    public var mediaPort: UInt16
    /// This core's smoothed busy fraction (0…1), read when a session is offered (admission
    /// control, `configuration.maxCoreLoad`). The owner wires it to its loop's
    /// `EventLoop.load`; tests inject a value. Called on this core only.
    public var coreLoad: () -> Double = { 0 }

    private(set) var rooms: [String: Room] = [:]
    let sessions = SessionRegistry()
    var lastSlowTick = Instant(nanoseconds: 0)
    /// Sessions set up since the heap was last trimmed (see `tick`).
    var setupsSinceTrim = 0
    var lastTrim = Instant(nanoseconds: 0)
    /// Tracks holding packets of the current receive batch (see `TrackFanout.forward`).
    var tracksToFlush: [TrackFanout] = []
    /// Simulcast layers that received a keyframe in this batch: viewers waiting for one of
    /// them move onto it when the batch ends (`moveViewersToKeyframedLayers`).
    var keyframedLayers: [(Room, TrackFanout)] = []
    /// The probe bytes this core may send its viewers (`LayerProbe`).
    var layerProbeBudget = LayerProbeBudget()
    /// What every instant start of this core may send together (`RoomManager+InstantStart`).
    var catchUpBudget = CatchUpBudget()
    /// The earliest time something is due (`nextTimeout`).
    var wakeAt: Instant?
    /// Told when an input made something due earlier than `nextTimeout` said before, so the
    /// owner can move its timer forward (see `RoomManager+Timers`).
    public var deadlineLowered: ((Instant) -> Void)?
    /// Told when a room's relay ends (`RoomManager+Relay`): its owner closes the relay's
    /// socket and sets a new relay up if `wantsRelay` still says so. Not called re-entrantly
    /// from the owner's own calls; it may run inside the relay socket's receive handler, so
    /// the socket is to be closed later in the turn, not from within.
    public var relayEnded: ((RelaySource) -> Void)?
    /// Counters of this core, closed rooms' fan-out drops included (see `mediaCounters`).
    public internal(set) var counters = RoomCounters()
    /// Set-up milestones: histograms for `/metrics`, events for tracing.
    public let lifecycle = SessionLifecycle()
    /// The rings to and from the other cores (`SHARD_RING_BYTES`); nil: every room stays on
    /// its core (one core, or shards off). See `RoomManager+Shards`.
    public var shardRings: CoreRings? {
        didSet { shardWakePending = Array(repeating: false, count: shardRings?.cores ?? 0) }
    }
    /// Every core's weight and load, read to place viewers (`CoreBoard`).
    public var board: CoreBoard?
    /// Sends a control message to another core's rooms: the owner wires it to that core's
    /// mailbox (`applyShardControl` there); a simulation calls the other manager.
    public var shardControl: ((_ core: Int, _ message: ShardControl) -> Void)?
    /// This core's rooms by their number in shard messages, and the shard rooms it holds for
    /// other cores' rooms (by owner and number).
    var roomsByShardID: [UInt32: Room] = [:]
    var shardRooms: [UInt64: Room] = [:]
    /// On a room's home core: where each room whose name hashes here lives
    /// (`RoomManager+Placement`). Bounded by the rooms that exist: an entry goes when its room
    /// does, so at most every core's `maxRooms`.
    var placements: [String: RoomTicket] = [:]
    var nextShardID: UInt32 = 1
    /// Rings written in the current batch, woken when it ends (one flag per target core).
    var shardRingsToWake: [CoreRing] = []
    var shardWakePending: [Bool] = []
    /// Where a ring message is read to (one at a time; the fan-out copies it to its history).
    let ringScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: RoomManager.ringMessageBytes, alignment: 16)

    public init(
        coreIndex: Int, identity: DTLSIdentity, configuration: RoomManagerConfiguration, output: DatagramQueue,
        mediaPort: UInt16 = 0
    ) {
        self.coreIndex = coreIndex
        self.output = output
        self.mediaPort = mediaPort
        self.identity = identity
        self.configuration = configuration
        tracksToFlush.reserveCapacity(64)
    }

    deinit { ringScratch.deallocate() }

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
        let room = try roomToOwn(named: name.value, now: now)
        if let existing = room.publisher, existing.state != .closed {
            removeIfEmpty(room)
            throw .publisherExists
        }
        // The publisher came to this node (an edge for the room until now): the local
        // publisher is the source, the relay goes.
        if let relay = room.relay { stopRelay(relay, in: room, reason: "a publisher is on this node now", closing: true, now: now) }
        let (session, answer) = try makeSession(
            role: .publisher, room: room, offer: offer, role: .publisher, setupClient: setupClient, now: now)
        room.publisher = session
        room.publisherSessions &+= 1
        room.publisherLeftAt = nil
        return SessionCreated(sessionID: session.id, answer: answer, etag: session.etag)
    }

    /// WHEP: a viewer offers to receive; answers with sendonly m-lines carrying the room's
    /// outbound tracks (also before any publisher has arrived). `relayFor`: the edge node this
    /// viewer is the relay of (shown in `/api/rooms`), nil for a viewer.
    public func play(
        room name: RoomName, offer: SessionDescription, client: SocketAddress? = nil, relayFor: String? = nil,
        now: Instant
    ) throws(RoomError) -> SessionCreated {
        try play(room: name, offer: offer, client: client, relayFor: relayFor, placed: nil, now: now)
    }

    /// `placed`: the shard room the owner placed this viewer in (`playOnShard`; the owner
    /// counted it toward the room's limit and on the `CoreBoard`).
    func play(
        room name: RoomName, offer: SessionDescription, client: SocketAddress?, relayFor: String? = nil, placed: Room?,
        now: Instant
    ) throws(RoomError) -> SessionCreated {
        let setupClient = try admitClient(client)
        try admit()
        let room: Room
        if let placed { room = placed } else { room = try roomToOwn(named: name.value, now: now) }
        // Connected viewers count toward the limit; viewers still setting up only within the
        // set-up allowance, so offers that never connect cannot keep real viewers out. The
        // owner counts those it placed on shards as connected.
        let limit = configuration.maxViewersPerRoom
        let connected = room.connectedViewers + room.viewersElsewhere
        if limit > 0, room.shardSource == nil,
            connected >= limit || connected + room.viewersInSetup >= limit + configuration.viewerSetupAllowance
        {
            removeIfEmpty(room)
            counters.refusedRoomFull &+= 1
            throw .roomFull(limit: limit)
        }
        let specs = [room.audio, room.video].map { f in
            // A publisher still setting up already has its codec (its answer is made), and so
            // has an edge's relay still connecting (the origin's answer): a viewer (or an
            // edge's relay) arriving meanwhile is answered with it too.
            let shard = room.shardSource?.sources
            let pending =
                room.publisher?.tracks.first { TrackKind($0.kind) == f.kind }?.codec
                ?? (f.kind == .video ? room.relay?.video : room.relay?.audio)?.codec
                ?? (f.kind == .video ? shard?.pendingVideoCodec : shard?.pendingAudioCodec)
            return OutboundTrackSpec(
                kind: f.kind.mediaKind, streamID: f.streamID, trackID: f.trackID, ssrc: f.ssrc,
                rtxSSRC: f.kind == .video ? f.rtxSSRC : nil, cname: f.cname, codec: f.source?.codec ?? pending)
        }
        let (session, answer) = try makeSession(
            role: .viewer, room: room, offer: offer, role: .viewer(tracks: specs), setupClient: setupClient, now: now)
        session.relayFor = relayFor
        room.addViewer(session)
        for media in session.tracks where media.direction.sends {
            guard let kind = TrackKind(media.kind) else { continue }
            let track = ViewerTrack(session: session, kind: kind, media: media)
            if kind == .video { track.layer = automaticLayer(track, bitrates: room.videoLayerBitrates(now: now), in: room, now: now) }
            session.viewerTracks.append(track)
            room.fanout(of: track).add(track)
        }
        if placed == nil { board?.add(coreIndex, 1) }
        return SessionCreated(sessionID: session.id, answer: answer, etag: session.etag)
    }

    /// DELETE on a session URL. Returns false when there is no such session in that room.
    @discardableResult
    public func endSession(room: String, id: String, now: Instant) -> Bool {
        guard let s = sessions.session(id: id), s.roomName == room else {
            return sessions.takeRecentlyEnded(id: id) == room
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
        closeShards(room)
        if rooms[name] === room { forget(room) }
        return true
    }

    /// Ends everything (graceful shutdown): DTLS close_notify goes out to every peer.
    public func shutdown(now: Instant) {
        for s in Array(sessions.byID.values) { end(s, reason: .shutdown, now: now) }
    }

    /// The session's ETag, for PATCH/If-Match handling.
    public func etag(room: String, id: String) -> String? {
        guard let s = sessions.session(id: id), s.roomName == room else { return nil }
        return s.etag
    }

    /// PATCH (RFC 9725 §4.3): trickled candidates are accepted and ignored (an ICE-lite
    /// server learns addresses from checks); new credentials restart ICE.
    public func patch(room: String, id: String, fragment: TrickleFragment, ifMatch: String?, now: Instant)
        -> Result<PatchOutcome, RoomError>
    {
        guard let s = sessions.session(id: id), s.roomName == room else { return .failure(.sessionNotFound) }
        if let ifMatch, ifMatch != "*", ifMatch != s.etag { return .failure(.preconditionFailed) }
        guard let (remoteUfrag, remotePassword) = fragment.credentials, remoteUfrag != s.remoteUfrag else {
            return .success(.trickleAccepted)
        }
        guard ifMatch != nil else { return .failure(.preconditionRequired) }
        let ufrag = sessions.freshUfrag()
        let password = RandomToken.iceString(length: 24)
        sessions.changeUfrag(of: s, from: s.ice.localUfrag, to: ufrag)
        s.restartICE(localUfrag: ufrag, localPassword: password, remoteUfrag: remoteUfrag, remotePassword: remotePassword)
        lifecycle.note(s, .iceRestart, now: now)
        let fragmentText = TrickleFragment(
            iceUfrag: ufrag, icePassword: password, hostCandidates: candidateAddresses, mids: s.tracks.map(\.mid)
        ).text
        return .success(.restarted(fragment: fragmentText, etag: s.etag))
    }

    // MARK: - Rooms and admission

    /// The per-IP cap on sessions in set-up: refuses a client whose IP already has
    /// `maxPendingSessionsPerIP` sessions on this core that have not connected. Returns the
    /// key the new session counts against (nil when the IP is unknown or the cap is off).
    func admitClient(_ client: SocketAddress?) throws(RoomError) -> PendingSessionsByIP.Key? {
        let limit = configuration.maxPendingSessionsPerIP
        guard limit > 0, let client else { return nil }
        let key = PendingSessionsByIP.key(for: client)
        guard sessions.pendingCount(for: key) < limit else {
            counters.refusedPendingPerIP &+= 1
            throw .tooManyPendingSessions(limit: limit, retryAfter: configuration.pendingRetryAfterSeconds)
        }
        return key
    }

    /// Admission control: refuses a new session while this core is saturated, so the sessions
    /// it already serves keep their quality and the client can retry later or elsewhere.
    func admit() throws(RoomError) {
        let limit = configuration.maxCoreLoad
        guard limit > 0 else { return }
        let load = coreLoad()
        guard load > limit else { return }
        counters.refusedCoreBusy &+= 1
        throw .coreBusy(load: load, limit: limit, retryAfter: configuration.coreBusyRetryAfterSeconds)
    }

    func room(named name: String, now: Instant) throws(RoomError) -> Room {
        if let r = rooms[name] { return r }
        guard rooms.count < configuration.maxRooms else { throw .tooManyRooms(limit: configuration.maxRooms) }
        let r = Room(
            name: name, now: now, videoHistoryStartBytes: configuration.videoHistoryStartBytes,
            instantStartMaxBytes: configuration.instantStartMaxBytes)
        rooms[name] = r
        r.shardID = nextShardID
        nextShardID = nextShardID == UInt32.max ? 1 : nextShardID + 1
        roomsByShardID[r.shardID] = r
        counters.roomsCreated &+= 1
        return r
    }

    func removeIfEmpty(_ room: Room) {
        if room.isEmpty, rooms[room.name] === room { forget(room) }
    }

    func forget(_ room: Room) {
        if let relay = room.relay {
            // No viewer left here: the origin is told at once (DTLS close_notify).
            stopRelay(relay, in: room, reason: "no viewers left", closing: true, now: max(relay.lastDriven, relay.receivedAt))
        }
        counters.addFanoutFigures(of: room)
        rooms[room.name] = nil
        if roomsByShardID[room.shardID] === room { roomsByShardID[room.shardID] = nil }
        if let source = room.shardSource {
            shardRooms[Self.shardKey(source.owner, source.roomID)] = nil
        } else {
            tellHome(forgot: room.name, seq: room.placementSeq)
        }
    }

    /// The core's counters with the live rooms' fan-out figures added (for `/metrics`).
    public var mediaCounters: RoomCounters {
        var c = counters
        for room in rooms.values {
            c.addFanoutFigures(of: room)
        }
        return c
    }

    // MARK: - Tear-down

    func end(_ s: PeerSession, reason: PeerSession.EndReason, now: Instant) {
        guard s.state != .closed else { return }
        if s.dtls.state == .connected, let address = s.address {
            s.dtls.close()
            output.sendQueuedDatagrams(of: s.dtls, to: address)
        }
        s.state = .closed
        sessions.remove(s, rememberAt: reason == .deleted ? nil : now)
        counters.sessionsEnded[reason, default: 0] &+= 1
        lifecycle.note(s, .ended(reason), now: now)
        if s.role == .viewer { board?.add(coreIndex, -1) }
        guard let room = rooms[s.roomName] else { return }
        if room.publisher === s {
            // Its packets of the current receive batch are still held: they go out first.
            for f in room.fanouts { f.flushPending(output: output) }
            room.publisher = nil
            finishRecordings(room, now: now)
            for f in room.fanouts { f.detachSource() }
            room.publisherLeftAt = now
            updateShards(room)
        } else {
            room.removeViewer(s)
            for t in s.viewerTracks { room.fanout(of: t).remove(session: s) }
            s.viewerTracks.removeAll()
            shardViewerEnded(room)
        }
        removeIfEmpty(room)
    }

    /// Sessions by state, for metrics and tests.
    public var sessionCount: Int { sessions.count }
    public var sessionsByState: [(String, Int)] {
        var counts: [PeerSession.State: Int] = [:]
        for s in sessions.byID.values { counts[s.state, default: 0] += 1 }
        return [PeerSession.State.waitingForICE, .connecting, .connected].map { ($0.rawValue, counts[$0] ?? 0) }
    }
    public var routedAddressCount: Int { sessions.routedAddressCount }
    public var pendingCount: Int { sessions.pending.count }
    /// Client IPs with a session in set-up on this core.
    public var pendingClientCount: Int { sessions.pendingClientCount }
}
