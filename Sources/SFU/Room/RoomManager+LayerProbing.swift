import Reactor

/// Automatic layer choice with the viewer's bandwidth estimate, and probing for a higher
/// layer (`LayerProbe` says why and how much): the per-second check, the bursts paced from
/// `tick`, and the outcome from the viewer's transport-cc feedback.
extension RoomManager {
    /// The check for one viewer on its layer: aimed elsewhere when its estimate says so, or
    /// sent a probe burst for the next layer up.
    func checkLayer(_ v: ViewerTrack, in fanout: TrackFanout, room: Room, bitrates: [UInt64], now: Instant) {
        let estimator = v.session.bandwidth?.estimator
        let refusedBefore = layerProbeBudget.refused
        let step = v.probe.step(
            bitrates: bitrates, current: v.layer, pinned: v.pinnedLayer, estimate: layerEstimate(v.session, in: room, now: now),
            decreases: estimator?.delayDecreases ?? 0,
            canProbe: estimator?.signal == .transportCC && v.session.bandwidth?.log != nil && !v.catchingUp,
            budget: &layerProbeBudget, now: now)
        switch step {
        case .stay:
            if v.probe.timedOut(now: now) {
                v.session.bandwidth?.estimator.cancelProbe()
                v.probe.finish(nil, now: now)
            }
            counters.layerProbesOverBudget &+= layerProbeBudget.refused &- refusedBefore
        case .aim(let layer):
            aim(v, at: layer, in: room, now: now)
        case .probe(_, let rate, _):
            guard let log = v.session.bandwidth?.log else { return }
            v.session.bandwidth?.estimator.startProbe(first: log.nextSequence, targetRate: rate)
            counters.layerProbes &+= 1
            fanout.beginProbe(v)
            counters.layerProbeBytes &+= UInt64(fanout.sendDueProbes(now: now, output: output))
            noteDeadline(fanout.nextProbeTime)
        }
    }

    /// The longest a viewer's layer is held back while it waits for a lower layer's keyframe
    /// (`ViewerTrack.heldForMove`): a keyframe request that goes unanswered is repeated after
    /// a second, and the viewer should not be left without video meanwhile.
    static let moveHoldLimit: Duration = .seconds(1)
    /// After a move up, its keyframe comes as a burst and the estimator is new to the layer's
    /// rate: a dip then is no collapse, and for this long only the per-second check acts
    /// (interop, H.264: a viewer probed back up to f went down to h at once and back).
    static let moveUpSettling: Duration = .seconds(2)

    /// After a viewer's bandwidth feedback: one on automatic whose estimate has collapsed
    /// under what it is sent (`LayerChoice.collapsed`) is aimed at the layer its estimate
    /// carries now, not at the next per-second check (where milder shortfalls get a temporal
    /// cap first), and its layer is held back until it moves (`moveHoldLimit` at most).
    /// Behind a bottleneck well under the layer, the queue is full and drops the tail of every
    /// frame, so nothing more of the layer is decodable, and what is sent into it only delays
    /// the new layer's keyframe and the audio behind the same queue (interop, 400 kbit/s
    /// behind 800: 0.7 s of the 1.2 s to the lowest layer were the per-second check's wait).
    func downswitchOnFeedback(_ s: PeerSession, room: Room, now: Instant) {
        guard room.videoLayers.count > 1, let v = s.videoTrack else { return }
        releaseMoveHold(v, now: now)
        guard v.pinnedLayer == nil, v.movedUpAt.map({ now - $0 >= Self.moveUpSettling }) ?? true,
            let estimate = layerEstimate(s, in: room, now: now)
        else { return }
        let aimed = v.targetLayer ?? v.layer
        guard aimed < room.videoLayers.count else { return }
        let layer = room.videoLayers[aimed]
        let sent: UInt64, least: UInt64
        if aimed == v.layer {
            sent = layer.bitrate(temporalCap: v.temporalCap, now: now)
            least = layer.bitrate(temporalCap: 0, now: now)
        } else {
            sent = layer.currentBitrate(now: now)
            least = sent
        }
        guard LayerChoice.collapsed(estimate: estimate, sent: sent, least: least) else { return }
        let choice = automaticLayer(v, bitrates: room.videoLayerBitrates(now: now), in: room, now: now)
        guard choice != aimed else { return }
        counters.layerDownswitchesOnFeedback &+= 1
        aim(v, at: choice, in: room, now: now)
        if v.targetLayer != nil {
            v.heldForMove = true
            v.heldForMoveUntil = now + Self.moveHoldLimit
        }
    }

    /// A viewer held back for a move that has not come within `moveHoldLimit` gets its
    /// layer again.
    func releaseMoveHold(_ v: ViewerTrack, now: Instant) {
        if v.heldForMove, !(now < v.heldForMoveUntil) { v.heldForMove = false }
    }

    /// The estimate the automatic choice follows: transport-cc's or REMB's, less the room's
    /// audio when the viewer is sent it (the estimate is for all the path carries, the layers'
    /// bitrates are video's alone); nil (the best layer) for a viewer that sends only receiver
    /// reports, whose estimate is bounded by 1.5 × what it is sent and could never come back
    /// up once down.
    func layerEstimate(_ s: PeerSession, in room: Room, now: Instant) -> UInt64? {
        guard let e = s.bandwidth?.estimator, e.signal == .transportCC || e.signal == .remb, let estimate = e.estimate
        else { return nil }
        let audio = s.viewerTracks.contains { $0.kind == .audio } ? room.audio.currentBitrate(now: now) : 0
        return estimate > audio ? estimate - audio : 0
    }

    /// From `tick`: the bursts' packets that are due.
    func sendLayerProbes(_ room: Room, now: Instant) {
        for f in room.videoLayers where !f.viewersProbing.isEmpty {
            counters.layerProbeBytes &+= UInt64(f.sendDueProbes(now: now, output: output))
        }
    }

    /// After a viewer's transport-cc feedback: when it completed a burst's measurement, the
    /// viewer's probe learns it, and one that showed the next layer fits is aimed there now.
    func layerProbeMeasured(_ s: PeerSession, room: Room, now: Instant) {
        guard let outcome = s.bandwidth?.estimator.takeProbeOutcome(), let v = s.videoTrack else { return }
        guard v.probe.finish(outcome, now: now) else { return }
        counters.layerProbesUp &+= 1
        guard v.pinnedLayer == nil, v.targetLayer == nil, room.videoLayers.count > 1 else { return }
        let choice = LayerChoice.layer(
            bitrates: room.videoLayerBitrates(now: now), current: v.layer, estimate: layerEstimate(s, in: room, now: now))
        if choice != v.layer { aim(v, at: choice, in: room, now: now) }
    }

    /// A viewer moves (or is pinned): a burst in progress ends unmeasured, and the new layer
    /// must hold a while before the next.
    func layerChanged(_ v: ViewerTrack, from fanout: TrackFanout?, now: Instant) {
        if case .idle = v.probe.phase {} else {
            fanout?.viewersProbing.removeAll { $0 === v }
            v.session.bandwidth?.estimator.cancelProbe()
            v.probe.finish(nil, now: now)
        }
        v.probe.unsettle(now: now)
    }
}
