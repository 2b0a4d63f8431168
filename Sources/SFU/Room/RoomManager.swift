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

    private(set) var rooms: [String: Room] = [:]
    private var sessions: [String: PeerSession] = [:]
    private var byUfrag: [String: PeerSession] = [:]
    private var byAddress: [SocketAddress: PeerSession] = [:]
    /// Sessions whose ICE/DTLS set-up is still running (ticked for DTLS retransmits).
    private var pending: [PeerSession] = []
    private var lastSlowTick = Instant(nanoseconds: 0)
    public private(set) var counters = RoomCounters()

    public init(coreIndex: Int, identity: DTLSIdentity, configuration: RoomManagerConfiguration) {
        self.coreIndex = coreIndex
        self.identity = identity
        self.configuration = configuration
    }

    // MARK: - Control plane (called on this core through the mailbox)

    /// WHIP: a publisher offers its media; answers with a recvonly SDP.
    public func publish(room name: RoomName, offer: SessionDescription, now: Instant) throws(RoomError)
        -> SessionCreated
    {
        let room = try room(named: name.value, now: now)
        if let existing = room.publisher, existing.state != .closed {
            removeIfEmpty(room)
            throw .publisherExists
        }
        let (session, answer) = try makeSession(role: .publisher, room: room, offer: offer, role: .publisher, now: now)
        room.publisher = session
        room.publisherSessions &+= 1
        room.publisherLeftAt = nil
        return SessionCreated(sessionID: session.id, answer: answer, etag: session.etag)
    }

    /// WHEP: a viewer offers to receive; answers with sendonly m-lines carrying the room's
    /// outbound tracks (also before any publisher has arrived).
    public func play(room name: RoomName, offer: SessionDescription, now: Instant) throws(RoomError)
        -> SessionCreated
    {
        let room = try room(named: name.value, now: now)
        let limit = configuration.maxViewersPerRoom
        if limit > 0, room.viewerCount >= limit {
            removeIfEmpty(room)
            counters.refusedRoomFull &+= 1
            throw .roomFull(limit: limit)
        }
        let specs = [room.audio, room.video].map { f in
            OutboundTrackSpec(
                kind: f.kind.mediaKind, streamID: f.streamID, trackID: f.trackID, ssrc: f.ssrc,
                rtxSSRC: nil, cname: f.cname, codec: f.source?.codec)
        }
        let (session, answer) = try makeSession(
            role: .viewer, room: room, offer: offer, role: .viewer(tracks: specs), now: now)
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
        guard let s = sessions[id], s.roomName == room else { return false }
        end(s, reason: .deleted, now: now)
        return true
    }

    /// Admin: ends every session of a room. Returns false when the room does not exist.
    @discardableResult
    public func closeRoom(_ name: String, now: Instant) -> Bool {
        guard let room = rooms[name] else { return false }
        if let p = room.publisher { end(p, reason: .roomClosed, now: now) }
        for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
        rooms[name] = nil
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
        s.restartICE(
            agent: IceLiteAgent(
                localUfrag: ufrag, localPassword: password, remoteUfrag: remoteUfrag, remotePassword: remotePassword),
            remoteUfrag: remoteUfrag)
        let fragmentText = TrickleFragment(
            iceUfrag: ufrag, icePassword: password, hostCandidates: candidateAddresses, mids: s.tracks.map(\.mid)
        ).text
        return .success(.restarted(fragment: fragmentText, etag: s.etag))
    }

    // MARK: - Session set-up

    private func room(named name: String, now: Instant) throws(RoomError) -> Room {
        if let r = rooms[name] { return r }
        guard rooms.count < configuration.maxRooms else { throw .tooManyRooms(limit: configuration.maxRooms) }
        let r = Room(name: name, now: now)
        rooms[name] = r
        counters.roomsCreated &+= 1
        return r
    }

    private func removeIfEmpty(_ room: Room) {
        if room.isEmpty, rooms[room.name] === room { rooms[room.name] = nil }
    }

    private func makeSession(
        role: PeerSession.Role, room: Room, offer: SessionDescription, role answerRole: AnswerRole, now: Instant
    ) throws(RoomError) -> (PeerSession, String) {
        guard sessions.count < configuration.maxSessions else {
            removeIfEmpty(room)
            throw .tooManySessions(limit: configuration.maxSessions)
        }
        var ufrag = RandomToken.iceString(length: 8)
        while byUfrag[ufrag] != nil { ufrag = RandomToken.iceString(length: 8) }
        let password = RandomToken.iceString(length: 24)
        let parameters = AnswerParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: identity.localFingerprint.value,
            candidates: candidateAddresses, sendTransportCC: false,
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

    public func batchEnded(on socket: UDPSocket, now: Instant) {}

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
        if result.rejection != nil { counters.stunRejected &+= 1 }
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
        if result.selectedAddressChanged, let selected = s.ice.selectedAddress {
            s.address = selected
            if s.state == .waitingForICE { s.state = .connecting }
        }
    }

    /// Sends every datagram DTLS has queued, then acts on its events.
    private func flushDTLS(_ s: PeerSession, to address: SocketAddress, socket: UDPSocket, now: Instant) {
        let destination = s.address ?? address
        while true {
            var produced = false
            let queued = socket.send(to: destination, capacity: 1500) { out in
                guard let n = s.dtls.pollDatagram(into: out) else { return 0 }
                produced = true
                return n
            }
            if !produced || !queued { break }
        }
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
                s.state = .connected
                s.connectedAt = now
                pending.removeAll { $0 === s }
                sessionConnected(s, now: now)
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
            s.srtpErrors &+= 1
            counters.droppedSRTPErrors &+= 1
            return
        }
        let packet = UnsafeMutableRawBufferPointer(rebasing: datagram[0..<length])
        guard let view = try? RTPPacket(parsing: packet) else {
            counters.droppedMalformed &+= 1
            return
        }
        s.packetsIn &+= 1
        s.bytesIn &+= UInt64(length)
        guard let stream = s.inboundStream(ssrc: view.ssrc, payloadType: view.payloadType) else {
            counters.droppedUnknownSSRC &+= 1
            return
        }
        if stream.isRTX {
            // Repairs from the publisher are not unwrapped yet (quality-loop issue).
            counters.droppedPublisherRTX &+= 1
            return
        }
        guard let room = rooms[s.roomName] else { return }
        var isKeyframe = false
        if stream.kind == .video, let codec = VideoCodec(stream.media.codecName) {
            isKeyframe = KeyframeDetector.isKeyframe(codec: codec, payload: UnsafeRawBufferPointer(view.payload))
        }
        room.fanout(stream.kind).forward(view, isKeyframe: isKeyframe, now: now, socket: socket)
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
            s.srtpErrors &+= 1
            counters.droppedSRTPErrors &+= 1
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
            case .nack:
                s.nackReceived &+= 1
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
        guard let p = room.publisher, p.state == .connected, let address = p.address, let srtp = p.srtp,
            let socket, let stream = p.inbound.first(where: { $0.kind == .video && !$0.isRTX })
        else { return }
        let sender = room.video.ssrc
        _ = socket.send(to: address, capacity: 64) { out in
            var writer = RTCPWriter(into: out)
            writer.addPictureLossIndication(senderSSRC: sender, mediaSSRC: stream.ssrc)
            guard let n = try? writer.finish() else { return 0 }
            return (try? srtp.protectRTCP(out, length: n)) ?? 0
        }
        counters.pliSent &+= 1
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

    /// Drives DTLS retransmits and set-up timeouts (call every ~20–50 ms), and once a second
    /// consent expiry, REMB to publishers, keyframe retries and the publisher grace period.
    public func tick(now: Instant) {
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
        guard now - lastSlowTick >= .seconds(1) else { return }
        lastSlowTick = now
        for s in Array(sessions.values) where s.state == .connected && s.ice.consentExpired(now: now) {
            counters.consentExpiries &+= 1
            end(s, reason: .consentExpired, now: now)
        }
        for room in Array(rooms.values) {
            if let p = room.publisher {
                sendREMB(p)
                if room.video.keyframeThrottle.retryDue(now: now) { sendPLI(room: room) }
            } else if configuration.publisherGrace.nanoseconds > 0,
                let since = room.publisherLeftAt ?? Optional(room.createdAt),
                now - since >= configuration.publisherGrace
            {
                for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
            }
            removeIfEmpty(room)
        }
    }

    // MARK: - Tear-down

    private func end(_ s: PeerSession, reason: PeerSession.EndReason, now: Instant) {
        guard s.state != .closed else { return }
        if s.dtls.state == .connected, let socket, let address = s.address {
            s.dtls.close()
            var produced = true
            while produced {
                produced = false
                _ = socket.send(to: address, capacity: 1500) { out in
                    guard let n = s.dtls.pollDatagram(into: out) else { return 0 }
                    produced = true
                    return n
                }
            }
        }
        s.state = .closed
        sessions[s.id] = nil
        byUfrag[s.ice.localUfrag] = nil
        for a in s.routedAddresses where byAddress[a] === s { byAddress[a] = nil }
        s.routedAddresses.removeAll()
        pending.removeAll { $0 === s }
        counters.sessionsEnded[reason, default: 0] &+= 1
        guard let room = rooms[s.roomName] else { return }
        if room.publisher === s {
            room.publisher = nil
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

    /// Sessions by state, for metrics and tests.
    public var sessionCount: Int { sessions.count }
    public var sessionsByState: [(String, Int)] {
        var counts: [PeerSession.State: Int] = [:]
        for s in sessions.values { counts[s.state, default: 0] += 1 }
        return [PeerSession.State.waitingForICE, .connecting, .connected].map { ($0.rawValue, counts[$0] ?? 0) }
    }
    public var routedAddressCount: Int { byAddress.count }
    public var pendingCount: Int { pending.count }

    /// A Sendable picture of every room on this core, for `/api/rooms` and `/metrics`.
    public func snapshot(now: Instant) -> [RoomSnapshot] {
        rooms.values.map { room in
            RoomSnapshot(
                name: room.name, core: coreIndex,
                publisher: room.publisher.map { p in
                    RoomSnapshot.Publisher(
                        state: p.state.rawValue, packets: p.packetsIn, bytes: p.bytesIn, srtpErrors: p.srtpErrors)
                },
                tracks: [room.audio, room.video].compactMap { f in
                    guard let source = f.source else { return nil }
                    return RoomSnapshot.Track(
                        kind: f.kind.description, codec: source.codecName.encodingName, ssrc: f.ssrc,
                        bitrate: f.currentBitrate(now: now), packetsIn: f.packetsIn, bytesIn: f.bytesIn,
                        packetsOut: f.packetsOut, bytesOut: f.bytesOut, keyframes: f.keyframes,
                        keyframeRequests: f.keyframeThrottle.requestsSent)
                },
                viewers: room.viewerCount,
                connectedViewers: room.viewersByID.values.filter { $0.state == .connected }.count,
                packetsIn: room.audio.packetsIn &+ room.video.packetsIn,
                bytesIn: room.audio.bytesIn &+ room.video.bytesIn,
                packetsOut: room.audio.packetsOut &+ room.video.packetsOut,
                bytesOut: room.audio.bytesOut &+ room.video.bytesOut)
        }
    }
}
