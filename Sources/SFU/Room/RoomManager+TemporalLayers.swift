import Reactor

/// Temporal layers (VP8, VP9): a viewer's temporal cap asked for through the API, or chosen once a
/// second from its estimate (`TemporalLayerChoice`) before the spatial choice, which leaves a
/// viewer whose layer fits at a lower cap where it is.
extension RoomManager {
    /// `POST /api/session/{room}/{id}/layer` with its body as text (`LayerSelection`):
    /// answers what the viewer is moving to or is on, e.g. `h`, `h temporal=0`, `temporal=auto`.
    public func selectLayers(room name: String, id: String, body: String, now: Instant) -> Result<String, RoomError> {
        switch LayerSelection.parse(body) {
        case .success(let selection):
            return select(room: name, id: id, selection, now: now)
        case .failure(.badTemporal):
            counters.temporalRequestsRefused &+= 1
            return .failure(.badLayerRequest("a temporal cap is temporal=0 to temporal=3, or temporal=auto"))
        case .failure(.malformed):
            counters.layerRequestsRefused &+= 1
            return .failure(.badLayerRequest(
                "the body names a layer by its RID, or auto, and/or a temporal cap (temporal=0-3 or temporal=auto)"))
        }
    }

    /// Applies a parsed selection: the spatial part as `selectLayer`, then the temporal cap
    /// (refused for a viewer whose video is neither VP8 nor VP9: no temporal layers to cap).
    public func select(room name: String, id: String, _ selection: LayerSelection, now: Instant) -> Result<String, RoomError> {
        guard let s = sessions.session(id: id), s.roomName == name, s.role == .viewer, rooms[name] != nil,
              let track = s.videoTrack
        else { return .failure(.sessionNotFound) }
        if selection.temporal != nil, !TemporalInfo.readsLayers(of: VideoCodec(track.codec)) {
            counters.temporalRequestsRefused &+= 1
            return .failure(.noTemporalLayers)
        }
        var answer: [String] = []
        if let spatial = selection.spatial {
            switch selectLayer(room: name, id: id, choice: spatial, now: now) {
            case .success(let rid): answer.append(rid)
            case .failure(let error): return .failure(error)
            }
        }
        switch selection.temporal {
        case nil:
            break
        case .automatic:
            track.pinnedTemporal = nil
            track.temporalChoice.reset()
            track.setTemporalCap(nil)
            answer.append("temporal=auto")
        case .cap(let n):
            track.pinnedTemporal = n
            track.temporalHolds = false
            track.setTemporalCap(n)
            answer.append("temporal=\(n)")
        }
        return .success(answer.joined(separator: " "))
    }

    /// Once a second, before the spatial choice: each viewer on an automatic temporal cap
    /// gets the one `TemporalLayerChoice` picks from its estimate and its layer's temporal
    /// bitrates. Viewers moving between layers or being started are left alone.
    func automaticTemporalLayers(_ room: Room, now: Instant) {
        for f in room.videoLayers where f.temporalCodec != nil {
            let rates = f.cumulativeTemporalBitrates(now: now)
            for v in f.viewers where v.pinnedTemporal == nil {
                guard v.targetLayer == nil, !v.catchingUp, VideoCodec(v.codec) == f.temporalCodec else {
                    v.temporalHolds = false
                    continue
                }
                let step = v.temporalChoice.step(
                    rates: rates, estimate: layerEstimate(v.session, in: room, now: now),
                    decreases: v.session.bandwidth?.estimator.delayDecreases ?? 0, now: now)
                v.temporalHolds = step.holds
                if step.cap != nil || v.temporal != nil { v.setTemporalCap(step.cap) }
            }
        }
    }

    /// A viewer moved to another spatial layer: an automatic temporal cap starts over there
    /// (every layer; the next check caps it again if need be).
    func temporalLayerMoved(_ v: ViewerTrack) {
        guard v.pinnedTemporal == nil else { return }
        v.temporalChoice.reset()
        v.temporalHolds = false
        v.setTemporalCap(nil)
    }
}
