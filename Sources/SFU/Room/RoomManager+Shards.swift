import Reactor

/// One room on every core. A room's owner core (where its publisher is) keeps its viewers
/// until it has `shardMinViewers`; after that each new viewer goes to the lightest core
/// (`CoreBoard`), which holds a shard of the room: a room of the same name whose source is the
/// owner. The owner unprotects and rewrites each packet once and writes one copy per shard
/// core to its `CoreRing`; the shard core takes it into its own fan-out (history, keyframe
/// cache, batch fan-out, repairs, instant start) exactly as a publisher's packet, and
/// protects and sends for its viewers on its own socket, so no per-viewer work crosses
/// cores. Its viewers' keyframe requests go back through the ring (throttled on the shard,
/// and again on the owner); NACKs are answered from the shard's own history; receiver
/// reports, transport-cc and REMB stay with the viewer's session. Control (the publisher's
/// media, close, a viewer gone) goes through the mailbox (`shardControl`).
extension RoomManager {
    /// The largest message body a ring carries (one RTP packet; larger ones are not sent on).
    static let ringMessageBytes = 2048
    /// Messages read from one ring per loop turn: a burst is taken in parts, so one ring
    /// cannot hold the core (the loop does not sleep while a ring has messages).
    static let ringBatchLimit = 512

    static func shardKey(_ owner: Int, _ roomID: UInt32) -> UInt64 { UInt64(owner) << 32 | UInt64(roomID) }

    public enum ViewerPlacement: Sendable {
        case here
        case shard(core: Int, open: ShardOpen)
    }

    // MARK: - On the owner

    /// WHEP, on the room's owner: where its next viewer is set up. Here while the room has
    /// fewer than `shardMinViewers` (or has no publisher yet, or is an edge's relay target);
    /// else on the lightest core, which the caller then asks (`playOnShard`) directly from
    /// this core, so the shard hears of the room before any later change from here.
    public func placeViewer(room name: RoomName, relay: Bool = false, now: Instant) -> ViewerPlacement {
        let minimum = configuration.shardMinViewers
        guard minimum > 0, !relay, let rings = shardRings, let board, let room = rooms[name.value],
            room.publisher != nil || room.relay != nil,
            room.viewerCount + room.viewersElsewhere >= minimum
        else { return .here }
        // The margin never exceeds the threshold: a server told to spread rooms of a few
        // viewers spreads them at a difference of a few.
        let margin = min(configuration.shardMargin, minimum)
        let core = board.lightest(owner: coreIndex, margin: margin, maxLoad: configuration.maxCoreLoad)
        guard core != coreIndex, let ring = rings.ring(from: coreIndex, to: core) else { return .here }
        let limit = configuration.maxViewersPerRoom
        if limit > 0, room.connectedViewers + room.viewersElsewhere >= limit { return .here }  // play() refuses it
        let link = room.shards.first { $0.core == core } ?? {
            let l = ShardLink(core: core, ring: ring)
            room.shards.append(l)
            counters.shardsOpened &+= 1
            return l
        }()
        link.placed += 1
        board.add(core, 1)
        return .shard(core: core, open: ShardOpen(owner: coreIndex, roomID: room.shardID, room: name, sources: shardSources(room)))
    }

    /// The owner could not reach the shard core it chose (stopping): the placement is undone.
    public func shardPlacementFailed(_ open: ShardOpen, core: Int) {
        board?.add(core, -1)
        viewerLeftShard(roomID: open.roomID, core: core)
    }

    /// What the room's publisher (or relay) sends, for its shards.
    func shardSources(_ room: Room) -> ShardSources {
        let pending = room.publisher?.tracks
        return ShardSources(
            audio: room.audio.source, video: room.video.source, layers: room.videoLayers.count,
            pendingAudioCodec: pending?.first { TrackKind($0.kind) == .audio }?.codec ?? room.relay?.audio?.codec,
            pendingVideoCodec: pending?.first { TrackKind($0.kind) == .video }?.codec ?? room.relay?.video?.codec)
    }

    /// The room's sources changed (a publisher or relay came or left): its shards follow.
    func updateShards(_ room: Room) {
        guard !room.shards.isEmpty else { return }
        let sources = shardSources(room)
        for link in room.shards { shardControl?(link.core, .sources(roomID: room.shardID, sources)) }
    }

    /// The room closed here: its shards' viewers end too.
    func closeShards(_ room: Room) {
        for link in room.shards {
            shardControl?(link.core, .close(roomID: room.shardID))
            counters.shardsClosed &+= 1
        }
        room.shards.removeAll()
    }

    /// One rewritten publisher packet of `room` to every shard's ring (once per core).
    @inline(__always)
    func sendToShards(_ room: Room, _ packet: UnsafeRawBufferPointer, kind: TrackKind, layer: Int, keyframe: Bool) {
        guard packet.count <= Self.ringMessageBytes else {
            counters.shardRingDrops &+= UInt64(room.shards.count)
            return
        }
        let header = ShardMessage(
            roomID: room.shardID, kind: .media, track: ShardMessage.track(kind, layer: layer), keyframe: keyframe
        ).header
        for link in room.shards {
            if link.ring.write(header: header, body: packet) {
                counters.shardPacketsOut &+= 1
                wakeAtBatchEnd(link.ring)
            } else {
                counters.shardRingDrops &+= 1
            }
        }
    }

    /// A publisher's sender report, mapped to the owner's outbound stream, to the shards.
    func sendReportToShards(_ room: Room, fanout: TrackFanout, ntpTimestamp: UInt64, outboundRTPTimestamp: UInt32) {
        var body = (ntpTimestamp.littleEndian, outboundRTPTimestamp.littleEndian)
        let header = ShardMessage(roomID: room.shardID, kind: .senderReport, track: ShardMessage.track(fanout.kind, layer: fanout.layer)).header
        withUnsafeBytes(of: &body) { bytes in
            for link in room.shards where link.ring.write(header: header, body: UnsafeRawBufferPointer(rebasing: bytes[0..<12])) {
                wakeAtBatchEnd(link.ring)
            }
        }
    }

    func wakeAtBatchEnd(_ ring: CoreRing) {
        if !shardWakePending[ring.to] {
            shardWakePending[ring.to] = true
            shardRingsToWake.append(ring)
        }
    }

    /// Called when a batch ends: each ring written to wakes its reader once.
    func wakeShardRings() {
        for ring in shardRingsToWake {
            shardWakePending[ring.to] = false
            ring.wakeConsumer()
        }
        shardRingsToWake.removeAll(keepingCapacity: true)
    }

    func viewerLeftShard(roomID: UInt32, core: Int) {
        guard let room = roomsByShardID[roomID], let i = room.shards.firstIndex(where: { $0.core == core }) else { return }
        let link = room.shards[i]
        link.placed -= 1
        if link.placed <= 0 {
            room.shards.remove(at: i)
            counters.shardsClosed &+= 1
            removeIfEmpty(room)
        }
    }

    // MARK: - On a shard core

    /// WHEP, on the core the owner chose: the room's shard here (opened, or brought up to date)
    /// and the viewer in it. A viewer that cannot be set up is reported gone to the owner.
    public func playOnShard(
        _ open: ShardOpen, offer: SessionDescription, client: SocketAddress? = nil, now: Instant
    ) throws(RoomError) -> SessionCreated {
        do {
            let room = try shardRoom(open, now: now)
            return try play(room: open.room, offer: offer, client: client, placed: room, now: now)
        } catch {
            board?.add(coreIndex, -1)
            shardControl?(open.owner, .viewerLeft(roomID: open.roomID))
            throw error
        }
    }

    /// The room `name` for a request its home sent here as to the room's owner (WHIP, or WHEP
    /// placed here). A shard room of that name here is left from an owner that has closed the
    /// room since: the home names an owner only where no other core owns the room, and a room
    /// goes only once it has no shard but those it told to close. That close may still be on
    /// its way (from another core than the home's request), so the shard room ends now, its
    /// viewers with it, as the close would end them.
    func roomToOwn(named name: String, now: Instant) throws(RoomError) -> Room {
        if let stale = rooms[name], stale.shardSource != nil {
            for v in Array(stale.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
            if rooms[name] === stale { forget(stale) }
            counters.staleShardRoomsClosed &+= 1
        }
        return try room(named: name, now: now)
    }

    /// The shard room for `open`: the one here, or a new one with the owner's sources.
    private func shardRoom(_ open: ShardOpen, now: Instant) throws(RoomError) -> Room {
        let key = Self.shardKey(open.owner, open.roomID)
        if let room = shardRooms[key] { return room }
        if let stale = rooms[open.room.value] {
            // The owner's room of that name was closed and made anew: a new number.
            guard let old = stale.shardSource, stale.publisher == nil else { throw .publisherExists }
            shardRooms[Self.shardKey(old.owner, old.roomID)] = nil
            stale.shardSource = nil
        }
        guard let rings = shardRings, let feedback = rings.ring(from: coreIndex, to: open.owner) else {
            throw .internalError("no ring to core \(open.owner)")
        }
        let room = try room(named: open.room.value, now: now)
        room.shardSource = ShardSource(owner: open.owner, roomID: open.roomID, feedback: feedback, sources: open.sources)
        shardRooms[key] = room
        attach(open.sources, to: room, now: now)
        counters.shardRoomsOpened &+= 1
        return room
    }

    /// The owner's publisher media as this shard's sources: its viewers' answers and fan-out.
    private func attach(_ sources: ShardSources, to room: Room, now: Instant) {
        room.shardSource?.sources = sources
        for f in room.fanouts { f.flushPending(output: output) }
        room.setVideoLayers(max(sources.layers, 1))
        for f in room.fanouts {
            if let media = f.kind == .audio ? sources.audio : sources.video {
                if f.source != media { f.attach(source: media) }
            } else {
                f.detachSource()
            }
        }
        room.publisherLeftAt = sources.audio == nil && sources.video == nil ? now : nil
    }

    /// A control message from another core (through the mailbox).
    public func applyShardControl(_ message: ShardControl, from core: Int, now: Instant) {
        switch message {
        case .sources(let id, let sources):
            guard let room = shardRooms[Self.shardKey(core, id)] else { return }
            attach(sources, to: room, now: now)
        case .close(let id):
            guard let room = shardRooms[Self.shardKey(core, id)] else { return }
            for v in Array(room.viewersByID.values) { end(v, reason: .roomClosed, now: now) }
            removeIfEmpty(room)
        case .viewerLeft(let id):
            viewerLeftShard(roomID: id, core: core)
        case .roomForgotten(let name, let seq):
            roomForgotten(name, seq: seq, by: core)
        }
    }

    /// A viewer of a shard room ended: its owner counts it gone.
    func shardViewerEnded(_ room: Room) {
        guard let source = room.shardSource else { return }
        shardControl?(source.owner, .viewerLeft(roomID: source.roomID))
    }

    /// A keyframe request of a shard's viewers (the shard's throttle let it pass), to the owner.
    func sendShardKeyframeRequest(room: Room, layer: Int) {
        guard let source = room.shardSource else { return }
        let header = ShardMessage(roomID: source.roomID, kind: .keyframeRequest, track: ShardMessage.track(.video, layer: layer)).header
        if source.feedback.write(header: header, body: UnsafeRawBufferPointer(start: nil, count: 0)) {
            counters.pliSent &+= 1
            source.feedback.wakeConsumer()
        } else {
            counters.shardRingDrops &+= 1
        }
    }

    // MARK: - Reading a ring (either side)

    /// Takes the messages another core wrote to this one: media into the shard rooms' fan-outs
    /// (sent when the batch ends, as a receive batch is), sender reports on to their viewers,
    /// keyframe requests from shards up to the publisher. At most `ringBatchLimit` a call.
    public func readRing(_ ring: CoreRing, now: Instant) {
        var cachedKey = UInt64.max
        var cached: Room?
        var n = 0
        while n < Self.ringBatchLimit, let (header, length) = ring.read(into: ringScratch) {
            n += 1
            guard let message = ShardMessage(header: header) else {
                counters.shardMessagesUnknown &+= 1
                continue
            }
            if message.kind == .keyframeRequest {
                guard let room = roomsByShardID[message.roomID] else { continue }
                counters.shardKeyframeRequestsIn &+= 1
                requestKeyframe(room: room, layer: max(Int(message.track) - 1, 0), now: now)
                continue
            }
            let key = Self.shardKey(ring.from, message.roomID)
            if key != cachedKey {
                cachedKey = key
                cached = shardRooms[key]
            }
            guard let room = cached else {
                counters.shardMessagesUnknown &+= 1  // the shard went before the owner knew
                continue
            }
            let fanout = message.track == 0 ? room.audio : room.fanout(.video, layer: Int(message.track) - 1)
            let body = UnsafeMutableRawBufferPointer(rebasing: ringScratch[0..<length])
            if message.kind == .senderReport {
                readShardReport(UnsafeRawBufferPointer(body), fanout: fanout, now: now)
                continue
            }
            guard let packet = try? RTPPacket(parsing: body) else {
                counters.droppedMalformed &+= 1
                continue
            }
            counters.shardPacketsIn &+= 1
            if fanout.forward(packet, isKeyframe: message.keyframe, now: now, output: output) { tracksToFlush.append(fanout) }
            if message.keyframe, room.videoLayers.count > 1 || !fanout.viewersCatchingUp.isEmpty {
                keyframedLayers.append((room, fanout))
            }
        }
        batchEnded(now: now)
    }

    private func readShardReport(_ body: UnsafeRawBufferPointer, fanout: TrackFanout, now: Instant) {
        guard body.count >= 12 else { return }
        let ntp = UInt64(littleEndian: body.loadUnaligned(as: UInt64.self))
        let rtp = UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard fanout.currentSourceSSRC != nil else { return }
        fanout.senderReports.publisherReport(ntpTimestamp: ntp, outboundRTPTimestamp: fanout.outboundTimestamp(rtp), now: now)
        for viewer in fanout.viewers { sendSenderReport(fanout, to: viewer, now: now) }
    }
}
