import Reactor

/// Simulcast: each viewer is on one of the publisher's layers and moves to another only at a
/// keyframe of that layer (asked for, throttled per layer), from which it is started as an
/// instant start is; its copies then get offsets so it sees one continuous stream.
extension RoomManager {
    /// A viewer's choice through the API: a layer by RID, or automatic.
    public enum LayerRequest: Sendable, Equatable {
        case automatic
        case rid(String)
    }

    /// RTP ticks between the last frame a moving viewer got and the new layer's keyframe: one
    /// frame at 30/s (the layers' sender reports' step is only a figure: `moveOffsets`).
    static let layerSwitchFrameTicks: UInt32 = 3000

    /// `POST /api/session/{room}/{id}/layer`: pins a viewer to a layer (or back to automatic)
    /// and starts its move at that layer's next keyframe. Returns the RID it is moving to (or
    /// is on). A session of another room, or a publisher's, is not found.
    public func selectLayer(room name: String, id: String, choice: LayerRequest, now: Instant) -> Result<String, RoomError> {
        guard let s = sessions.session(id: id), s.roomName == name, s.role == .viewer, let room = rooms[name],
              let track = s.videoTrack
        else { return .failure(.sessionNotFound) }
        let rids = room.video.source?.simulcastRIDs ?? []
        guard rids.count > 1, room.videoLayers.count == rids.count else {
            counters.layerRequestsRefused &+= 1
            return .failure(.notSimulcast)
        }
        switch choice {
        case .automatic:
            track.pinnedLayer = nil
        case .rid(let rid):
            guard let layer = rids.firstIndex(of: rid) else {
                counters.layerRequestsRefused &+= 1
                return .failure(.unknownLayer(rid))
            }
            track.pinnedLayer = layer
        }
        layerChanged(track, from: room.videoLayers.first { $0.layer == track.layer }, now: now)
        let target = track.pinnedLayer ?? automaticLayer(track, bitrates: room.videoLayerBitrates(now: now), in: room, now: now)
        aim(track, at: target, in: room, now: now)
        return .success(rids[target])
    }

    /// Sets where a viewer is to go: nowhere when it is there, else that layer's next keyframe.
    func aim(_ track: ViewerTrack, at layer: Int, in room: Room, now: Instant) {
        track.heldForMove = false
        guard layer != track.layer else {
            track.targetLayer = nil
            return
        }
        track.targetLayer = layer
        requestKeyframe(room: room, layer: layer, now: now)
    }

    /// Moves the viewers waiting for a layer that has just received a keyframe onto it; at
    /// the end of a receive batch, after the fan-out, so what each got on its old layer is
    /// known.
    func moveViewersToKeyframedLayers(now: Instant) {
        for (room, target) in keyframedLayers where rooms[room.name] === room {
            guard let start = target.keyframeCache.start else { continue }
            target.jumpCatchUpsToLatestKeyframe()
            var moving: [(ViewerTrack, TrackFanout)] = []
            for from in room.videoLayers where from !== target {
                for v in from.viewers where v.targetLayer == target.layer { moving.append((v, from)) }
            }
            for (v, from) in moving { move(v, from: from, to: target, keyframe: start, in: room, now: now) }
        }
        keyframedLayers.removeAll(keepingCapacity: true)
    }

    /// Moves a viewer between layers at the target's keyframe `start`: offsets that continue
    /// its numbering, timestamps and picture IDs from the last packet it got, then the
    /// keyframe and what followed at once (`startCatchUp`), then the live layer. A viewer on
    /// automatic moving down has its keyframe paced at its estimate (`CatchUpCursor.paceBitsPerSecond`).
    private func move(
        _ v: ViewerTrack, from: TrackFanout, to target: TrackFanout, keyframe start: UInt16, in room: Room, now: Instant
    ) {
        guard let key = target.history?.storedPacket(sequenceNumber: start) else { return }
        let codec = VideoCodec(v.codec)
        var offsets = StreamOffsets(codec: codec)
        let lastSequence = v.catchingUp ? v.catchUp.next &- 1 : from.history?.newestSequenceNumber
        temporalLayerMoved(v)
        let previous = v.offsetsStartingOver()  // what its temporal cap held back included
        if let lastSequence {
            let moved = Self.moveOffsets(
                after: lastSequence, on: from, previous: previous, keyframe: key, start: start, on: target, codec: codec,
                now: now)
            offsets = moved.offsets
            v.lastMoveStep = moved.step
        }
        v.layerMoves &+= 1
        layerChanged(v, from: from, now: now)
        from.remove(session: v.session)
        v.catchingUp = false
        v.heldForMove = false
        v.layer = target.layer
        v.targetLayer = nil
        v.offsets = offsets
        v.rewrites = true
        v.firstSequenceOnLayer = start &+ offsets.sequence
        target.add(v)
        let rate = target.currentBitrate(now: now), fromRate = from.currentBitrate(now: now)
        if rate > fromRate { v.movedUpAt = now }
        // At least twice the new layer's bitrate, so the catch-up always reaches live.
        let pace = v.pinnedLayer == nil && rate < fromRate
            ? layerEstimate(v.session, in: room, now: now).map { max($0, 2 * rate) } : nil
        refillCatchUpBudget(now: now)
        if target.startCatchUp(v, keyframe: start, pace: pace, now: now, budget: &catchUpBudget, output: output) {
            noteDeadline(target.nextCatchUpTime)
        }
        counters.layerSwitches &+= 1
    }

    /// Once a second: viewers on automatic are aimed at the layer `LayerChoice` picks from
    /// their estimate, or probed for the next one up (`checkLayer`); one waiting for a layer
    /// that stopped sending is aimed anew.
    func automaticLayers(_ room: Room, now: Instant) {
        automaticTemporalLayers(room, now: now)
        guard room.videoLayers.count > 1 else { return }
        let bitrates = room.videoLayerBitrates(now: now)
        for f in room.videoLayers {
            for v in f.viewers {
                releaseMoveHold(v, now: now)
                if let t = v.targetLayer, t < bitrates.count, bitrates[t] > 0 { continue }  // on its way
                if v.temporalHolds { continue }  // its layer fits at a lower temporal cap
                if v.pinnedLayer == nil, v.targetLayer != nil {
                    aim(v, at: automaticLayer(v, bitrates: bitrates, in: room, now: now), in: room, now: now)
                    continue
                }
                checkLayer(v, in: f, room: room, bitrates: bitrates, now: now)
            }
        }
    }

    func automaticLayer(_ v: ViewerTrack, bitrates: [UInt64], in room: Room, now: Instant) -> Int {
        LayerChoice.layer(bitrates: bitrates, current: v.layer, estimate: layerEstimate(v.session, in: room, now: now))
    }
}
